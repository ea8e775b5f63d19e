// Apollo's Federation-2 gateway over running subgraphs: node router.js PORT NAME=URL ...
// It composes them itself (IntrospectAndCompose) and forwards the caller's Authorization header. Prints "ready URL".
const { ApolloServer } = require('@apollo/server');
const { startStandaloneServer } = require('@apollo/server/standalone');
const { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } = require('@apollo/gateway');
// The gateway's own fetcher (make-fetch-happen, in its lock), without keeping connections: a kept one could be sent on
// just as uvicorn closed it after its 5 s keep-alive ("socket hang up" on a slow machine).
const fetcher = require('make-fetch-happen').defaults({ agent: false, retry: false });

const [port, ...pairs] = process.argv.slice(2);
const subgraphs = pairs.map((pair) => {
  const [name, url] = pair.split('=');
  return { name, url };
});
const gateway = new ApolloGateway({
  supergraphSdl: new IntrospectAndCompose({ subgraphs }),
  buildService: ({ url }) => new RemoteGraphQLDataSource({
    url,
    fetcher,
    willSendRequest({ request, context }) {
      if (context.authorization) request.http.headers.set('authorization', context.authorization);
    },
  }),
});
const server = new ApolloServer({ gateway });
startStandaloneServer(server, {
  listen: { port: Number(port), host: '127.0.0.1' },
  context: async ({ req }) => ({ authorization: req.headers.authorization }),
}).then(({ url }) => console.log(`ready ${url}`), (error) => { console.error(error); process.exit(1); });
