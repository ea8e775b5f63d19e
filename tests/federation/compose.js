// Compose the subgraph SDLs in a directory (one NAME.graphql each) with Apollo's reference composition.
// Prints "composed <bytes>" and exits 0, or prints each error as "CODE message" and exits 1.
const fs = require('fs');
const { composeServices } = require('@apollo/composition');
const { parse } = require('graphql');

const dir = process.argv[2];
const services = fs.readdirSync(dir).filter((f) => f.endsWith('.graphql')).map((f) => ({
  name: f.replace('.graphql', ''), url: `http://${f}`, typeDefs: parse(fs.readFileSync(`${dir}/${f}`, 'utf8')),
}));
const result = composeServices(services);
if (result.errors) {
  for (const e of result.errors) console.log(e.extensions?.code, e.message);
  process.exit(1);
}
console.log('composed', result.supergraphSdl.length);
