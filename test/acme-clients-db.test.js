// test/acme-clients.test.js (certbot and lego: obtain, renew, revoke) on a depot.db depot: the ACME state, the
// certificates from orders and the revocations in the record store (store/acme/).
process.env.PKI_DEPOT_FORMAT = "db";
await import("./acme-clients.test.js");
