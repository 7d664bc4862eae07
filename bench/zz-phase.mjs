import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { postgres } from '/work/main/dist/destinations/postgres/index.js';
import { POSTGRES_DIALECT } from '/work/main/dist/destinations/postgres/dialect.js';
import { eventRows } from '/work/main/dist/src/warehouse/event-rows.js';
import { planLoad } from '/work/main/dist/src/warehouse/load-plan.js';
import { createLogger } from '/work/main/dist/src/log.js';
const EVENT_NAMES = ['Product Viewed', 'Product Added', 'Checkout Started', 'Order Completed', 'Signed Up'];
function ev(i){const properties={};for(let p=0;p<30;p++){const k=p%5;properties[`property_${p}`]=k===0?`value ${i%97} of ${p}`:k===1?i*p:k===2?(i%1000)/7:k===3?i%2===0:new Date(1700000000000+i*1000).toISOString();}
const now=new Date().toISOString();return{type:'track',event:EVENT_NAMES[i%5],messageId:randomUUID(),userId:`user-${i%10000}`,anonymousId:randomUUID(),receivedAt:now,sentAt:now,timestamp:now,originalTimestamp:now,properties,context:{library:{name:'analytics.js',version:'x'},page:{path:'/c',url:'https://s/c',title:'S'},userAgent:'Mozilla',locale:'en-US'}};}
const N=20000;
const texts=Array.from({length:N},(_,i)=>JSON.stringify(ev(i)));
const admin=new pg.Client({connectionString:'postgres://postgres@127.0.0.1:5432/postgres'});await admin.connect();
await admin.query('DROP DATABASE IF EXISTS phase_wh WITH (FORCE)');await admin.query('CREATE DATABASE phase_wh');
const url='postgres://postgres@127.0.0.1:5432/phase_wh';
let t=performance.now();const lap=(n)=>{const x=performance.now();console.log(n,(x-t).toFixed(0),'ms');t=x;};
const rows=texts.flatMap(x=>eventRows(JSON.parse(x),POSTGRES_DIALECT,new Date().toISOString()));lap('map');
const plan=planLoad(new Map(),rows,POSTGRES_DIALECT);lap('plan');
const w=postgres.connect(postgres.configSchema.parse({connectionString:url,schema:'b'}),{logger:createLogger('silent')});
await w.load({schema:'b',rows});lap('load (first: create + insert)');
const rows2=texts.map(x=>{const e=JSON.parse(x);e.messageId=randomUUID();return e}).flatMap(e=>eventRows(e,POSTGRES_DIALECT,new Date().toISOString()));
t=performance.now();
await w.load({schema:'b',rows:rows2});lap('load (second: existing tables)');
await w.close();await admin.query('DROP DATABASE phase_wh WITH (FORCE)');await admin.end();
