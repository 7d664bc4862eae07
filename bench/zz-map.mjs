import { randomUUID } from 'node:crypto';
import { POSTGRES_DIALECT } from '../dist/destinations/postgres/dialect.js';
import { eventRows } from '../dist/src/warehouse/event-rows.js';
import { planLoad } from '../dist/src/warehouse/load-plan.js';
const EVENT_NAMES = ['Product Viewed', 'Product Added', 'Checkout Started', 'Order Completed', 'Signed Up'];
function ev(i){const properties={};for(let p=0;p<30;p++){const k=p%5;properties[`property_${p}`]=k===0?`value ${i%97} of ${p}`:k===1?i*p:k===2?(i%1000)/7:k===3?i%2===0:new Date(1700000000000+i*1000).toISOString();}
const now=new Date().toISOString();return{type:'track',event:EVENT_NAMES[i%5],messageId:randomUUID(),userId:`user-${i%10000}`,anonymousId:randomUUID(),receivedAt:now,sentAt:now,timestamp:now,originalTimestamp:now,properties,context:{library:{name:'analytics.js',version:'x'},page:{path:'/c',url:'https://s/c',title:'S'},userAgent:'Mozilla',locale:'en-US'}};}
const texts=Array.from({length:20000},(_,i)=>JSON.stringify(ev(i)));
for (let r=0;r<4;r++){
let t=performance.now();
const events=texts.map(x=>JSON.parse(x)); const a=performance.now();
const rows=events.flatMap(e=>eventRows(e,POSTGRES_DIALECT,'2024-01-01T00:00:00.000Z')); const b=performance.now();
planLoad(new Map(),rows,POSTGRES_DIALECT); const c=performance.now();
console.log('parse',(a-t)|0,'map',(b-a)|0,'plan',(c-b)|0);}
