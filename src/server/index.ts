/** The Hush server's public surface: web server, registration API, device registry, local TLS. */
export { startHttpServer, type HttpServerOptions } from './http-server.ts';
export { SECURITY_HEADERS, API_HEADERS } from './responses.ts';
export {
  createRegistrationApi,
  registrationRequestSchema,
  DEVICE_SECRET_BYTES,
  DEVICES_PATH,
  MAX_BODY_BYTES,
  type RegistrationResponse,
  type RegistrationApiOptions,
} from './registration-api.ts';
export {
  DeviceRegistry,
  inboxTopic,
  newClientId,
  type AccountBroker,
  type NewAccount,
} from './device-registry.ts';
export { embeddedAccounts } from './embedded-accounts.ts';
export {
  mosquittoAccounts,
  MosquittoReloadError,
  type MosquittoAccountsOptions,
} from './mosquitto-accounts.ts';
export { appCsp } from './static-files.ts';
export { ensureLocalTls, type LocalTls, type CertificateNames } from './local-tls.ts';
export { isLoopbackHost } from './loopback.ts';
