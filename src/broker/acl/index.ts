// Mosquitto-compatible aclfile support for Hush's embedded broker: parse an `acl_file`, then check each
// client's reads and writes exactly as Mosquitto 2.0.11's default ACL does (src/security_default.c).
// parse.ts reads the file, evaluate.ts holds the per-client check, match.ts the MQTT filter matching.

export { AclParseError, loadAclFile, parseAclFile } from './parse.ts';
export type { AclAccess, AclFile, AclRule } from './parse.ts';
export { compileClientAcl } from './evaluate.ts';
export type { ClientAcl } from './evaluate.ts';
export { topicMatchesFilter } from './match.ts';
