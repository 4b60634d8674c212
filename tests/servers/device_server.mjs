// RFC 8628 device authorization server for Tokendesk's realserver lane: npm oidc-provider (a certified OpenID
// provider implementation) with features.deviceFlow on and its development login/consent pages, on loopback.
//
// Clients (public, no secret; grants device_code + refresh_token):
//   device-app    device codes live 600 s
//   device-short  device codes live 3 s (to let one expire)
// Polling a device code sooner than 5 s after the last poll gets slow_down (RFC 8628 3.5; added here).
// Any login and password sign in at the development login page. Port 0 picks a free port; when listening, one
// JSON line {"issuer": ..., "port": ...} goes to stdout.
import http from "node:http";
import Provider from "oidc-provider";

const args = process.argv.slice(2);
const portArg = args.indexOf("--port");
const PORT = portArg >= 0 ? Number(args[portArg + 1]) : 0;
const HOST = "127.0.0.1";
const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
const INTERVAL_MS = 5000; // the interval oidc-provider announces

const server = http.createServer();
server.listen(PORT, HOST, () => {
  const { port } = server.address();
  const issuer = `http://${HOST}:${port}`;
  const client = (id) => ({
    client_id: id, client_name: `Tokendesk test ${id}`, token_endpoint_auth_method: "none",
    grant_types: [DEVICE_GRANT, "refresh_token"], response_types: [], redirect_uris: [],
  });
  const provider = new Provider(issuer, {
    clients: [client("device-app"), client("device-short")],
    features: { deviceFlow: { enabled: true }, devInteractions: { enabled: true }, revocation: { enabled: true } },
    scopes: ["openid", "offline_access", "mail"],
    ttl: {
      DeviceCode: (ctx, token, c) => (c.clientId === "device-short" ? 3 : 600),
      AccessToken: 3600,
      RefreshToken: 86400,
      Grant: 86400,
      Interaction: 600,
      Session: 86400,
    },
    issueRefreshToken: async (ctx, c) => c.grantTypeAllowed("refresh_token"),
    cookies: { keys: ["tokendesk-test-only"] },
  });
  provider.proxy = false;
  const handle = provider.callback();
  // RFC 8628 3.5 slow_down: oidc-provider 9 never sends it, so this server adds the rule in front of it - a device
  // code polled again sooner than the interval (5 s) is answered slow_down (and the wait starts again).
  const lastPoll = new Map();
  server.on("request", (req, res) => {
    if (req.method !== "POST" || !req.url.startsWith("/token")) return handle(req, res);
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString();
      req.body = text; // oidc-provider reads an already read body from req.body
      const form = new URLSearchParams(text);
      if (form.get("grant_type") === DEVICE_GRANT) {
        const code = form.get("device_code") || "";
        const last = lastPoll.get(code);
        lastPoll.set(code, Date.now());
        if (last !== undefined && Date.now() - last < INTERVAL_MS) {
          res.writeHead(400, { "Content-Type": "application/json", "Cache-Control": "no-store" });
          res.end(JSON.stringify({ error: "slow_down", error_description: "you are polling too quickly" }));
          return;
        }
      }
      handle(req, res);
    });
  });
  process.stdout.write(JSON.stringify({ issuer, port }) + "\n");
});
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => server.close(() => process.exit(0)));
