// A gRPC service without protobuf, for the suites that send gRPC through the edge (test/edge/grpc.slow, the real-apps
// suite's grpc-node app): messages are raw bytes (UTF-8 text here), which gRPC itself does not care about, so no
// .proto file or code generation is needed on either side.
import * as grpc from '@grpc/grpc-js';

const bytes = { serialize: (s: string) => Buffer.from(s), deserialize: (b: Buffer) => b.toString() };
const method = (name: string, requestStream: boolean, responseStream: boolean) => ({
  path: `/pier.test.Echo/${name}`, requestStream, responseStream,
  requestSerialize: bytes.serialize, requestDeserialize: bytes.deserialize,
  responseSerialize: bytes.serialize, responseDeserialize: bytes.deserialize,
});

/** pier.test.Echo: Say (unary), Count (server stream), Join (client stream), Chat (both ways at once), Slow (unary, answers after 2 s). */
export const ECHO = {
  say: method('Say', false, false),
  count: method('Count', false, true),
  join: method('Join', true, false),
  chat: method('Chat', true, true),
  slow: method('Slow', false, false),
} as grpc.ServiceDefinition;

export type EchoClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

/** A client of ECHO over TLS to `addr` (host:port), presenting `host` as SNI and authority, trusting `rootPem`. */
export function echoClient(addr: string, host: string, rootPem: string): EchoClient {
  const Client = grpc.makeGenericClientConstructor(ECHO, 'Echo');
  return new Client(addr, grpc.credentials.createSsl(Buffer.from(rootPem)), {
    'grpc.ssl_target_name_override': host, 'grpc.default_authority': host,
  }) as unknown as EchoClient;
}

/** A unary call; resolves once both the answer and the status (with the trailers) arrived, in whichever order. */
export function unary(client: EchoClient, name: string, req: string, md = new grpc.Metadata(), opts: grpc.CallOptions = {}) {
  return new Promise<{ value?: string; err?: grpc.ServiceError; trailers?: grpc.Metadata }>((resolve) => {
    let answer: { value?: string; err?: grpc.ServiceError } | undefined;
    let trailers: grpc.Metadata | undefined;
    const settle = () => { if (answer && trailers) resolve({ ...answer, trailers }); };
    const call = client[name](req, md, opts, (err: grpc.ServiceError | null, value?: string) => { answer = { value, err: err ?? undefined }; settle(); }) as grpc.ClientUnaryCall;
    call.on('status', (s: grpc.StatusObject) => { trailers = s.metadata; settle(); });
  });
}
