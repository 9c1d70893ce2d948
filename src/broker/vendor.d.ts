// aedes-persistence-level ships no typings; it exports a factory taking a level database.
declare module 'aedes-persistence-level' {
  const factory: unknown;
  export default factory;
}
