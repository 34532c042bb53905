/** NAME.p12 and NAME.jks / NAME.ks of an export (export.ts's exportMembers takes this when they are asked for). */
import { buildPkcs12 } from "./pkcs12.js";
import { buildJks, buildPkcs12Keystore } from "./jks.js";
import { MODE_SECRET, type ExportMaterial, type ExportOptions } from "./export.js";
import type { TarMember } from "./tar.js";

export function keystoreMembers(m: ExportMaterial, o: ExportOptions, chainDer: Uint8Array[]): TarMember[] {
  const out: TarMember[] = [];
  if (!m.keyDer) throw new Error("internal: PKCS#12 and keystore exports need the decrypted key");
  const base = { keyPkcs8Der: m.keyDer, chainDer };
  if (o.p12) {
    const p12 = buildPkcs12({ ...base, friendlyName: m.name, password: o.p12.password, legacy: o.p12.legacy });
    out.push({ name: `${m.name}.p12`, data: p12, mode: MODE_SECRET });
  }
  if (o.jks) {
    const ks = { ...base, alias: o.jks.alias ?? m.name, storePassword: o.jks.password };
    const pkcs12 = o.jks.type === "pkcs12";
    out.push({
      name: `${m.name}.${pkcs12 ? "ks" : "jks"}`,
      data: pkcs12 ? buildPkcs12Keystore(ks) : buildJks(ks),
      mode: MODE_SECRET,
    });
  }
  return out;
}
