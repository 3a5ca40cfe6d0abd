/**
 * A TCP load balancer on 127.0.0.1 in front of several hub processes (what an operator
 * puts before a cluster of one identity): each connection is piped, bytes untouched (TLS
 * included), to the backend `route` picks; a backend that refuses the connection is
 * skipped for the next one. It records where each connection went.
 */
import { createServer, connect, type Server, type Socket } from "node:net"

export interface BalancedConnection {
  backend: number
  open: boolean
}

export interface TcpBalancer {
  port: number
  /** Picks the backend (an index into the ports) of the n-th connection. */
  route: (n: number) => number
  /** Every connection piped so far, in order. */
  connections: BalancedConnection[]
  close(): Promise<void>
}

/** Starts a balancer over backends on 127.0.0.1 at `ports`; round robin until `route` is set. */
export async function startTcpBalancer(ports: readonly number[]): Promise<TcpBalancer> {
  const sockets = new Set<Socket>()
  const track = (s: Socket) => {
    sockets.add(s)
    s.once("close", () => sockets.delete(s))
  }
  const balancer: TcpBalancer = {
    port: 0,
    route: n => n % ports.length,
    connections: [],
    close: () => new Promise(resolve => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    }),
  }
  const pipe = (client: Socket, first: number, tries: number) => {
    const backend = connect(ports[first]!, "127.0.0.1")
    track(backend)
    let connected = false
    backend.once("connect", () => {
      connected = true
      const record = { backend: first, open: true }
      balancer.connections.push(record)
      client.pipe(backend).pipe(client)
      const end = () => {
        record.open = false
        client.destroy()
        backend.destroy()
      }
      client.once("close", end)
      backend.once("close", end)
    })
    backend.once("error", () => {
      // refused before it connected: the next backend; a reset after: the close above
      if (!connected && tries + 1 < ports.length) pipe(client, (first + 1) % ports.length, tries + 1)
      else client.destroy()
    })
  }
  let n = 0
  const server: Server = createServer(client => {
    track(client)
    client.on("error", () => {})
    pipe(client, balancer.route(n++), 0)
  })
  await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve))
  balancer.port = (server.address() as { port: number }).port
  return balancer
}
