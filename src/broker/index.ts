/** The embedded broker's public surface. */
export { startBroker, type RunningBroker } from './broker.ts';
export { resolveBrokerOptions, limitsSchema, type BrokerOptions, type BrokerLimits } from './options.ts';
export { clientIdProblem } from './client-id.ts';
export { MQTT_WS_PATH } from './listeners/ws.ts';
