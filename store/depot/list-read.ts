/**
 * What `pki list` and `pki status` import: the depot's location, the record store and the read path, built into
 * one file of its own (scripts/build-bundle.mjs) rather than shared chunks, since node's ES-module loader pays for
 * each file it links (~15 ms of a ~60 ms command on this machine).
 */
export { locateDepot, openRecords } from "./locate.js";
export { entryOf, listed, listFilter, recordsOf, stateOf } from "./read.js";
