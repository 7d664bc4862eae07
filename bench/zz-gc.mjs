import ivm from 'isolated-vm';
import { sampleEvent } from './lib.mjs';
const B = Number(process.env.B ?? 500);
const texts = Array.from({ length: B }, (_, i) => {
  const e = sampleEvent(i);
  e.properties.email = 'A@B.com';
  e.context.ip = '1.2.3.4';
  return JSON.stringify(e);
});
const joined = texts.join('');
const lengths = texts.map((t) => t.length);
const iso = new ivm.Isolate({ memoryLimit: Number(process.env.ML ?? 128) });
const ctx = await iso.createContext();
const T = `function t(e) { if (Number(e.properties.product_id.slice(4)) % 50 === 0) return null; e.properties.email = e.properties.email.toLowerCase(); e.properties.enriched = true; delete e.context.ip; return e; }`;
const arrIn = await ctx.evalClosure(
  T +
    '; return (texts) => { const out = []; for (let i = 0; i < texts.length; i++) { const r = t(JSON.parse(texts[i])); if (r) out.push(JSON.stringify(r)); } return out; }',
  [],
  { result: { reference: true } },
);
const joinIn = await ctx.evalClosure(
  T +
    '; return (text, lengths) => { const out = []; let o = 0; for (let i = 0; i < lengths.length; i++) { const r = t(JSON.parse(text.slice(o, o + lengths[i]))); o += lengths[i]; if (r) out.push(JSON.stringify(r)); } return out; }',
  [],
  { result: { reference: true } },
);
const joinInOut = await ctx.evalClosure(
  T +
    '; return (text, lengths) => { const out = []; let o = 0; for (let i = 0; i < lengths.length; i++) { const r = t(JSON.parse(text.slice(o, o + lengths[i]))); o += lengths[i]; if (r) out.push(JSON.stringify(r)); } return out.join("\\n"); }',
  [],
  { result: { reference: true } },
);
async function t(name, fn, n = 300) {
  for (let i = 0; i < 30; i++) await fn();
  const s = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return (((performance.now() - s) / n) * 1000) / B;
}
const r = { arr: [], join: [], joinOut: [] };
for (let k = 0; k < 4; k++) {
  r.arr.push(
    await t('arr', () =>
      arrIn.apply(undefined, [texts], { arguments: { copy: true }, result: { copy: true } }),
    ),
  );
  r.join.push(
    await t('join', () =>
      joinIn.apply(undefined, [texts.join(''), lengths], {
        arguments: { copy: true },
        result: { copy: true },
      }),
    ),
  );
  r.joinOut.push(
    await t('joinOut', async () =>
      (
        await joinInOut.apply(undefined, [texts.join(''), lengths], {
          arguments: { copy: true },
          result: { copy: true },
        })
      ).split('\n'),
    ),
  );
}
for (const [k, v] of Object.entries(r))
  console.log(k.padEnd(8), v.map((x) => x.toFixed(2)).join(' '), 'us/event');
