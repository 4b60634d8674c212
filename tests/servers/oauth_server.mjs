// A strict OAuth2 / OIDC server for Tokendesk's tests, built on the npm package oauth2-mock-server.
//
// oauth2-mock-server is lenient by design (any refresh token works, introspection says active:true for
// anything, no client authentication). This script wraps its request handler and uses its event hooks
// so that the tests meet a server that behaves like a real provider:
//   * clients are registered (client_id + client_secret, or public clients without a secret); a client
//     may require one authentication method ({"auth_method": "client_secret_basic"|"client_secret_post"});
//     a wrong secret answers 401 invalid_client
//   * authorization codes are single use, bound to the client and the redirect_uri, and checked against
//     the PKCE S256 code_challenge sent to /authorize (wrong or missing verifier: invalid_grant)
//   * every issued access and refresh token is remembered; refresh tokens that are unknown, revoked or
//     expired answer invalid_grant; refresh tokens rotate (the old one dies) unless configured otherwise
//   * introspection (RFC 7662, POST form, GET ?token= or Authorization: Bearer) answers active:false for
//     unknown, revoked or expired tokens and gives sub/username/email/client_id/scope/exp otherwise
//     (Dovecot's passdb oauth2 validates tokens through it)
//   * revocation (RFC 7009) really revokes (a refresh token takes its grant's access tokens with it)
//   * the access-token lifetime is configurable
//   * who signed in is configurable ("identity"): preferred_username in the tokens, only an opaque sub in the ID
//     token (the e-mail address only from /userinfo), or neither (no ID token); /userinfo answers live tokens only
// plus a control endpoint to script faults and read counters (test use only):
//   POST /__control {"action": "reset"}
//   POST /__control {"action": "configure", "access_token_ttl": 60, "refresh_rotation": "rotate|same|omit",
//                    "refresh_token_ttl": null, "login_page": false, "default_user": "...", "clients": {...}}
//   POST /__control {"action": "fault", "endpoint": "token|authorize|revoke|introspect|userinfo", "kind": ...,
//                    "times": 1, "grant_type": "refresh_token"}   kinds:
//        error      answer status (default 400) with JSON body (default {"error": "invalid_grant"})
//        status     answer status with a plain-text body (e.g. 500 "Internal Server Error")
//        hang       wait "seconds", then answer normally
//        malformed  answer 200 with a truncated JSON document
//        close      drop the connection without an answer
//        omit       answer normally without the listed "fields" (e.g. ["expires_in"], ["refresh_token"])
//        merge      answer normally with "fields" ({...}) merged into the JSON body
//        (authorize) error: redirect with "params" ({error, error_description, ...}) instead of a code
//        (authorize) page: answer an HTML page with "status" and "html" instead of redirecting
//   POST /__control {"action": "issue", "client_id": ..., "user": ..., "scope": ..., "ttl": ...}
//        mint a token pair directly (for tests of code that only uses tokens)
//   POST /__control {"action": "revoke"|"expire", "token": "..."}
//   GET  /__state   counters, the remembered requests (test data only) and the options
//
// Usage: node oauth_server.mjs [--port N] [--host 127.0.0.1]
// Port 0 picks a free port. When listening, one JSON line {"issuer": ..., "port": ...} goes to stdout.
// The process ends when stdin closes (so it never outlives the test run that started it) or on SIGTERM.

import { createServer } from "node:http";
import { createHash, randomUUID } from "node:crypto";
import { OAuth2Issuer, OAuth2Service } from "oauth2-mock-server";
import express from "express";
import basicAuth from "basic-auth";

// ---- arguments
const args = process.argv.slice(2);
function argValue(name, fallback) {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
}
const PORT = Number(argValue("--port", "0"));
const HOST = argValue("--host", "127.0.0.1");

// ---- state
const DEFAULT_CLIENTS = {
  "tokendesk-test": { secret: "tokendesk-test-secret" },
  "tokendesk-public": { secret: null },
};

function defaultOptions() {
  return {
    access_token_ttl: 3600,
    refresh_token_ttl: null, // seconds, null = does not expire
    send_refresh_token_expires_in: false,
    refresh_rotation: "rotate", // rotate: new refresh token, old one dies; same: echo it; omit: no field (Google)
    reuse_detection: false, // true: a rotated-away refresh token used again revokes its whole grant (RFC 9700)
    login_page: false, // true: /authorize shows a sign-in page first
    default_user: "tokendesk-user@example.test",
    iss_parameter: false, // true: RFC 9207 - "iss" on every authorization response, announced in discovery
    // who signed in, in the tokens: "username" (preferred_username in access and ID token, as Keycloak/Entra do),
    // "sub" (only an opaque sub in the ID token; /userinfo adds email), "none" (no ID token, no account claim)
    identity: "username",
    strict_clients: true,
    clients: structuredClone(DEFAULT_CLIENTS),
  };
}

let options = defaultOptions();
let faults = [];
let codes = new Map(); // code -> {client_id, redirect_uri, challenge, method, scope, user, used}
let accessTokens = new Map(); // token -> {client_id, user, scope, exp, iat, grant, revoked}
let refreshTokens = new Map(); // token -> {client_id, user, scope, exp, grant, revoked}
let counters = {};
let requestLog = [];

function resetState() {
  options = defaultOptions();
  faults = [];
  codes = new Map();
  accessTokens = new Map();
  refreshTokens = new Map();
  counters = {
    authorize: 0,
    token: 0,
    authorization_code: 0,
    refresh_token: 0,
    client_credentials: 0,
    revoke: 0,
    introspect: 0,
    userinfo: 0,
    issued_access_tokens: 0,
    issued_refresh_tokens: 0,
    rejected: 0,
  };
  requestLog = [];
}
resetState();

const now = () => Math.floor(Date.now() / 1000);

const BLOCKING_KINDS = ["hang", "error", "status", "malformed", "close", "page"];

function takeFault(endpoint, grantType, kinds = BLOCKING_KINDS) {
  const i = faults.findIndex(
    (f) =>
      f.endpoint === endpoint && kinds.includes(f.kind) && (!f.grant_type || f.grant_type === grantType) && f.times > 0,
  );
  if (i < 0) return null;
  const fault = faults[i];
  fault.times -= 1;
  if (fault.times <= 0) faults.splice(i, 1);
  return fault;
}

function peekResponseFaults(endpoint, grantType) {
  // omit/merge faults shape a successful answer; they are taken in beforeResponse
  return faults.filter(
    (f) => f.endpoint === endpoint && ["omit", "merge"].includes(f.kind) && (!f.grant_type || f.grant_type === grantType),
  );
}

function tokenState(record) {
  if (!record) return "unknown";
  if (record.revoked) return "revoked";
  if (record.exp !== null && record.exp !== undefined && record.exp <= now()) return "expired";
  return "active";
}

function oauthError(res, status, error, description, extra = {}) {
  counters.rejected += 1;
  res.status(status);
  res.set({ "Cache-Control": "no-store", Pragma: "no-cache" });
  if (status === 401) res.set("WWW-Authenticate", 'Basic realm="oauth2-test-server"');
  res.json({ error, error_description: description, ...extra });
}

function isLoopbackRedirect(uri) {
  try {
    const u = new URL(uri);
    return u.protocol === "http:" && ["127.0.0.1", "[::1]", "localhost"].includes(u.hostname);
  } catch {
    return false;
  }
}

function redirectAllowed(client, uri) {
  if (!client || !Array.isArray(client.redirect_uris) || client.redirect_uris.length === 0) return true;
  for (const allowed of client.redirect_uris) {
    if (allowed === uri) return true;
    // RFC 8252 7.3: any port for loopback redirects
    if (isLoopbackRedirect(allowed) && isLoopbackRedirect(uri)) {
      const a = new URL(allowed);
      const b = new URL(uri);
      if (a.hostname === b.hostname && a.pathname === b.pathname) return true;
    }
  }
  return false;
}

/** RFC 6749 2.3.1: Basic credentials are form-urlencoded before base64. */
function formDecode(text) {
  try {
    return decodeURIComponent(text.replace(/\+/g, " "));
  } catch {
    return text;
  }
}

/** Client authentication: HTTP Basic or client_id/client_secret in the body. Returns [client_id, error].
 *  A client registered with auth_method "client_secret_basic" or "client_secret_post" must use that one;
 *  sending the secret both ways is refused (RFC 6749 2.3: one method per request). */
function authenticateClient(req) {
  const basic = basicAuth(req);
  if (basic && req.body?.client_secret) return [null, "client authentication failed: more than one method"];
  const clientId = basic ? formDecode(basic.name) : req.body?.client_id;
  const secret = basic ? formDecode(basic.pass) : req.body?.client_secret;
  if (!clientId) return [null, "client authentication failed: no client_id"];
  if (!options.strict_clients) return [clientId, null];
  const client = options.clients[clientId];
  if (!client) return [null, `client authentication failed: unknown client '${clientId}'`];
  const used = basic ? "client_secret_basic" : "client_secret_post";
  if (client.secret && client.auth_method && client.auth_method !== used) {
    return [null, `client authentication failed: this client must use ${client.auth_method}, not ${used}`];
  }
  if (client.secret) {
    if (!secret) return [null, "client authentication failed: client_secret missing"];
    if (secret !== client.secret) return [null, "client authentication failed: wrong client_secret"];
  }
  return [clientId, null];
}

// ---- the library's service, made strict through its hooks
const issuer = new OAuth2Issuer();
await issuer.keys.generate("RS256");
const service = new OAuth2Service(issuer);

service.on("beforeAuthorizeRedirect", (redirect, req) => {
  const code = redirect.url.searchParams.get("code");
  if (options.iss_parameter) redirect.url.searchParams.set("iss", issuer.url); // RFC 9207, errors too
  const fault = takeFault("authorize", undefined, ["error"]);
  if (fault) {
    redirect.url.searchParams.delete("code");
    const params = fault.params || { error: "access_denied", error_description: "The user denied the request." };
    for (const [k, v] of Object.entries(params)) redirect.url.searchParams.set(k, String(v));
    return;
  }
  if (code) {
    codes.set(code, {
      client_id: req.query.client_id,
      redirect_uri: req.query.redirect_uri,
      challenge: req.query.code_challenge || null,
      method: req.query.code_challenge_method || (req.query.code_challenge ? "plain" : null),
      scope: req.query.scope || "",
      user: req.query.login_hint || options.default_user,
      used: false,
      issued_at: now(),
    });
  }
});

service.on("beforeTokenSigning", (token, req) => {
  // the library hard-codes 3600 s; the access token's exp follows the configured lifetime
  token.payload.exp = token.payload.iat + options.access_token_ttl;
  token.payload.jti = randomUUID();
  // who signed in, as OIDC providers (Keycloak, Entra ID) put it into their JWTs; clients have no user
  const ctx = req?.tokendesk || {};
  if (req?.body?.grant_type !== "client_credentials" && options.identity === "username") {
    token.payload.preferred_username = ctx.user || options.default_user;
  } else if (req?.body?.grant_type !== "client_credentials" && options.identity === "sub") {
    token.payload.sub = subjectOf(ctx.user || options.default_user); // an opaque, stable id per user
  }
});

// an opaque subject per user, as providers with pairwise or numeric subjects give
function subjectOf(user) {
  return "sub-" + createHash("sha256").update(String(user)).digest("hex").slice(0, 16);
}

service.on("beforeResponse", (response, req) => {
  if (response.statusCode !== 200 || !response.body || !response.body.access_token) return;
  const ctx = req.tokendesk || {};
  const body = response.body;
  const grant = ctx.grant || randomUUID();
  body.expires_in = options.access_token_ttl;
  if (ctx.scope !== undefined) body.scope = ctx.scope;
  accessTokens.set(body.access_token, {
    client_id: ctx.client_id,
    user: ctx.user || options.default_user,
    scope: body.scope || "",
    iat: now(),
    exp: now() + options.access_token_ttl,
    grant,
    revoked: false,
  });
  counters.issued_access_tokens += 1;
  if (options.identity === "none") delete body.id_token;
  if (req.body.grant_type === "client_credentials") {
    delete body.refresh_token;
    delete body.id_token;
  } else if (req.body.grant_type === "refresh_token" && options.refresh_rotation !== "rotate") {
    if (options.refresh_rotation === "same") body.refresh_token = req.body.refresh_token;
    else delete body.refresh_token;
  } else if (body.refresh_token) {
    if (req.body.grant_type === "refresh_token") {
      const old = refreshTokens.get(req.body.refresh_token);
      if (old) old.revoked = true; // rotation: the old refresh token dies
    }
    const exp = options.refresh_token_ttl ? now() + options.refresh_token_ttl : null;
    refreshTokens.set(body.refresh_token, {
      client_id: ctx.client_id,
      user: ctx.user || options.default_user,
      scope: body.scope || "",
      exp,
      grant,
      revoked: false,
    });
    counters.issued_refresh_tokens += 1;
    if (options.send_refresh_token_expires_in && options.refresh_token_ttl) {
      body.refresh_token_expires_in = options.refresh_token_ttl;
    }
  }
  for (const fault of peekResponseFaults("token", req.body.grant_type)) {
    if (fault.kind === "omit") for (const field of fault.fields || []) delete body[field];
    if (fault.kind === "merge") Object.assign(body, fault.fields || {});
    fault.times -= 1;
  }
  faults = faults.filter((f) => f.times > 0);
});

service.on("beforeRevoke", (response, req) => {
  const token = req.body?.token;
  const refresh = refreshTokens.get(token);
  const access = accessTokens.get(token);
  if (refresh) {
    refresh.revoked = true;
    // RFC 7009 2.1: revoking a refresh token also invalidates the access tokens of its grant
    for (const record of accessTokens.values()) if (record.grant === refresh.grant) record.revoked = true;
  }
  if (access) access.revoked = true;
  response.statusCode = 200;
});

service.on("beforeIntrospect", (response, req) => {
  const token = req.tokendeskIntrospectToken;
  const record = accessTokens.get(token) || refreshTokens.get(token);
  if (tokenState(record) !== "active") {
    response.body = { active: false };
    return;
  }
  response.body = {
    active: true,
    // RFC 7662 2.2: token_type as in RFC 6749 5.1 ("Bearer"); Dovecot's passdb oauth2 rejects anything else
    token_type: accessTokens.has(token) ? "Bearer" : "refresh_token",
    client_id: record.client_id,
    scope: record.scope,
    sub: record.user,
    username: record.user,
    email: record.user,
    exp: record.exp ?? undefined,
    iss: issuer.url,
  };
});

// ---- the outer application: control endpoint, faults, strict checks, then the library
const app = express();
app.disable("x-powered-by");
const form = express.urlencoded({ extended: false });
const jsonBody = express.json({ strict: false });

function logRequest(req, extra = {}) {
  requestLog.push({
    at: Date.now() / 1000,
    method: req.method,
    path: req.path,
    params: { ...(req.method === "GET" ? req.query : req.body) },
    authorization: req.headers.authorization ? req.headers.authorization.split(" ")[0] : null,
    ...extra,
  });
  if (requestLog.length > 500) requestLog.shift();
}

async function applyBlockingFault(fault, res) {
  // returns true when the fault answered (or dropped) the request
  if (!fault) return false;
  switch (fault.kind) {
    case "hang":
      await new Promise((resolve) => setTimeout(resolve, (fault.seconds ?? 30) * 1000));
      return res.destroyed || res.writableEnded;
    case "error":
      res.status(fault.status ?? 400);
      res.set({ "Cache-Control": "no-store" });
      res.json(fault.body ?? { error: "invalid_grant", error_description: "scripted error" });
      return true;
    case "status":
      res.status(fault.status ?? 500);
      res.type(fault.content_type ?? "text/plain");
      res.send(fault.text ?? "Internal Server Error");
      return true;
    case "malformed":
      res.status(fault.status ?? 200);
      res.type("application/json");
      res.send(fault.text ?? '{"access_token": "abc", "token_type": "Bearer", "expires_in": 36');
      return true;
    case "close":
      res.socket?.destroy();
      return true;
    default:
      return false;
  }
}

app.post("/__control", jsonBody, (req, res) => {
  const body = req.body || {};
  switch (body.action) {
    case "reset":
      resetState();
      res.json({ ok: true });
      return;
    case "configure": {
      const { action, ...rest } = body;
      for (const [k, v] of Object.entries(rest)) {
        if (!(k in options)) {
          res.status(400).json({ ok: false, error: `unknown option '${k}'` });
          return;
        }
      }
      Object.assign(options, rest);
      res.json({ ok: true, options });
      return;
    }
    case "fault": {
      const { action, ...fault } = body;
      if (!fault.endpoint || !fault.kind) {
        res.status(400).json({ ok: false, error: "a fault needs endpoint and kind" });
        return;
      }
      fault.times = fault.times ?? 1;
      faults.push(fault);
      res.json({ ok: true, pending: faults.length });
      return;
    }
    case "clear_faults":
      faults = [];
      res.json({ ok: true });
      return;
    case "issue": {
      const clientId = body.client_id || "tokendesk-test";
      const ttl = body.ttl ?? options.access_token_ttl;
      const grant = randomUUID();
      issuer
        .buildToken({
          expiresIn: ttl,
          scopesOrTransform: (_h, p) => Object.assign(p, {
            sub: body.user || options.default_user, preferred_username: body.user || options.default_user,
            scope: body.scope || "",
          }),
        })
        .then((accessToken) => {
          const refreshToken = randomUUID();
          accessTokens.set(accessToken, {
            client_id: clientId, user: body.user || options.default_user, scope: body.scope || "",
            iat: now(), exp: now() + ttl, grant, revoked: false,
          });
          refreshTokens.set(refreshToken, {
            client_id: clientId, user: body.user || options.default_user, scope: body.scope || "",
            exp: options.refresh_token_ttl ? now() + options.refresh_token_ttl : null, grant, revoked: false,
          });
          res.json({ access_token: accessToken, refresh_token: refreshToken, expires_in: ttl, token_type: "Bearer" });
        })
        .catch((err) => res.status(500).json({ ok: false, error: String(err) }));
      return;
    }
    case "revoke":
    case "expire": {
      const record = accessTokens.get(body.token) || refreshTokens.get(body.token);
      if (!record) {
        res.status(404).json({ ok: false, error: "unknown token" });
        return;
      }
      if (body.action === "revoke") record.revoked = true;
      else record.exp = now() - 1;
      res.json({ ok: true });
      return;
    }
    default:
      res.status(400).json({ ok: false, error: `unknown action '${body.action}'` });
  }
});

app.get("/__state", (_req, res) => {
  const summary = (map) => {
    const out = { active: 0, revoked: 0, expired: 0 };
    for (const record of map.values()) out[tokenState(record)] += 1;
    return out;
  };
  res.json({
    issuer: issuer.url,
    counters,
    options,
    pending_faults: faults,
    access_tokens: summary(accessTokens),
    refresh_tokens: summary(refreshTokens),
    requests: requestLog,
  });
});

app.get("/.well-known/openid-configuration", (_req, res) => {
  const base = issuer.url;
  res.json({
    issuer: base,
    authorization_endpoint: `${base}/authorize`,
    token_endpoint: `${base}/token`,
    userinfo_endpoint: `${base}/userinfo`,
    jwks_uri: `${base}/jwks`,
    revocation_endpoint: `${base}/revoke`,
    introspection_endpoint: `${base}/introspect`,
    end_session_endpoint: `${base}/endsession`,
    response_types_supported: ["code"],
    response_modes_supported: ["query"],
    grant_types_supported: ["authorization_code", "refresh_token", "client_credentials"],
    token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "none"],
    code_challenge_methods_supported: ["S256", "plain"],
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: ["RS256"],
    scopes_supported: ["openid", "email", "profile", "offline_access"],
    ...(options.iss_parameter ? { authorization_response_iss_parameter_supported: true } : {}),
  });
});

function loginPage(req) {
  const params = new URLSearchParams({ ...req.query, tokendesk_confirmed: "1" });
  const client = String(req.query.client_id || "");
  const esc = (s) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  return `<!doctype html><html><head><meta charset="utf-8"><title>Sign in - Test Identity Provider</title>
<style>body{font-family:sans-serif;background:#f3f4f6;margin:0}main{max-width:380px;margin:48px auto;background:#fff;
padding:28px 32px;border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.15)}h1{font-size:20px;margin:0 0 4px}
p{color:#444;font-size:14px}label{display:block;font-size:13px;margin-top:14px;color:#333}
input{width:100%;box-sizing:border-box;padding:8px;margin-top:4px;border:1px solid #bbb;border-radius:4px}
button{margin-top:20px;width:100%;padding:10px;background:#2563eb;color:#fff;border:0;border-radius:4px;font-size:15px}</style>
</head><body><main><h1>Test Identity Provider</h1><p>Sign in to continue to <b>${esc(client)}</b>.</p>
<form id="login" method="get" action="/authorize">
${[...params.entries()].map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`).join("\n")}
<label>Email<input name="login_hint" value="${esc(String(req.query.login_hint || options.default_user))}"></label>
<label>Password<input type="password" value="not-a-real-password"></label>
<button id="signin" type="submit">Sign in</button></form></main></body></html>`;
}

app.get("/authorize", async (req, res, next) => {
  counters.authorize += 1;
  logRequest(req);
  const fault = takeFault("authorize", undefined, ["page", "hang", "status", "close"]);
  if (fault && fault.kind === "page") {
    res.status(fault.status ?? 400).type("html").send(fault.html ?? "<h1>Error</h1>");
    return;
  }
  if (fault && (await applyBlockingFault(fault, res))) return;
  const client = options.clients[req.query.client_id];
  if (options.strict_clients && !client) {
    res.status(400).type("html").send(`<h1>Unknown client</h1><p>client_id '${String(req.query.client_id).replace(/</g, "&lt;")}' is not registered.</p>`);
    return;
  }
  if (typeof req.query.redirect_uri !== "string" || !redirectAllowed(client, req.query.redirect_uri)) {
    res.status(400).type("html").send("<h1>Invalid redirect_uri</h1><p>The redirect URI does not match the registration.</p>");
    return;
  }
  if (req.query.code_challenge && req.query.code_challenge_method && req.query.code_challenge_method !== "S256") {
    // real providers refuse "plain" where S256 is possible; so does this one
    const url = new URL(req.query.redirect_uri);
    url.searchParams.set("error", "invalid_request");
    url.searchParams.set("error_description", "code_challenge_method must be S256");
    if (req.query.state) url.searchParams.set("state", req.query.state);
    if (options.iss_parameter) url.searchParams.set("iss", issuer.url);
    res.redirect(url.href);
    return;
  }
  if (options.login_page && !req.query.tokendesk_confirmed) {
    res.type("html").send(loginPage(req));
    return;
  }
  service.requestHandler(req, res, next);
});

app.post("/token", form, async (req, res, next) => {
  counters.token += 1;
  const grantType = req.body?.grant_type;
  if (grantType && grantType in counters) counters[grantType] += 1;
  logRequest(req, { grant_type: grantType });
  const fault = takeFault("token", grantType);
  if (fault && (await applyBlockingFault(fault, res))) return;
  if (res.destroyed) return;

  const [clientId, authError] = authenticateClient(req);
  if (authError) return oauthError(res, 401, "invalid_client", authError);
  req.tokendesk = { client_id: clientId };

  if (grantType === "authorization_code") {
    const code = req.body.code;
    const record = codes.get(code);
    if (!record) return oauthError(res, 400, "invalid_grant", "authorization code unknown");
    if (record.used) return oauthError(res, 400, "invalid_grant", "authorization code already used");
    record.used = true;
    if (now() - record.issued_at > 600) return oauthError(res, 400, "invalid_grant", "authorization code expired");
    if (record.client_id !== clientId) return oauthError(res, 400, "invalid_grant", "code was issued to another client");
    if (record.redirect_uri !== req.body.redirect_uri) {
      return oauthError(res, 400, "invalid_grant", "redirect_uri does not match the authorization request");
    }
    if (record.challenge) {
      const verifier = req.body.code_verifier;
      if (!verifier) return oauthError(res, 400, "invalid_grant", "code_verifier required (PKCE)");
      if (!/^[A-Za-z0-9\-._~]{43,128}$/.test(verifier)) {
        return oauthError(res, 400, "invalid_grant", "code_verifier does not conform to RFC 7636");
      }
      const computed = record.method === "S256" ? createHash("sha256").update(verifier).digest("base64url") : verifier;
      if (computed !== record.challenge) {
        return oauthError(res, 400, "invalid_grant", "code_verifier does not match code_challenge (PKCE)");
      }
      // the library checks PKCE itself too (its own map); keep the verifier so it agrees
    } else if (req.body.code_verifier) {
      delete req.body.code_verifier; // no challenge was sent: nothing to verify (the library would throw)
    }
    req.tokendesk.user = record.user;
    req.tokendesk.scope = record.scope;
  } else if (grantType === "refresh_token") {
    const record = refreshTokens.get(req.body.refresh_token);
    const state = tokenState(record);
    if (state === "revoked" && options.reuse_detection) {
      // RFC 9700 4.14.2: a rotated-away refresh token used again - the whole grant dies (its newer tokens too)
      counters.reuse_detected = (counters.reuse_detected || 0) + 1;
      for (const map of [refreshTokens, accessTokens]) for (const r of map.values()) if (r.grant === record.grant) r.revoked = true;
    }
    if (state !== "active") return oauthError(res, 400, "invalid_grant", `refresh token ${state}`);
    if (record.client_id !== clientId) return oauthError(res, 400, "invalid_grant", "refresh token belongs to another client");
    req.tokendesk.user = record.user;
    req.tokendesk.scope = req.body.scope || record.scope;
    req.tokendesk.grant = record.grant;
  } else if (grantType === "client_credentials") {
    req.tokendesk.user = clientId;
    req.tokendesk.scope = req.body.scope || "";
  } else {
    return oauthError(res, 400, "unsupported_grant_type", `grant_type '${grantType}' is not supported`);
  }
  service.requestHandler(req, res, next);
});

app.post("/revoke", form, async (req, res, next) => {
  counters.revoke += 1;
  logRequest(req);
  const fault = takeFault("revoke");
  if (fault && (await applyBlockingFault(fault, res))) return;
  const [, authError] = authenticateClient(req);
  if (authError) return oauthError(res, 401, "invalid_client", authError);
  if (!req.body?.token) return oauthError(res, 400, "invalid_request", "token is required");
  service.requestHandler(req, res, next);
});

async function introspect(req, res, next) {
  counters.introspect += 1;
  logRequest(req);
  const fault = takeFault("introspect");
  if (fault && (await applyBlockingFault(fault, res))) return;
  let token = req.method === "GET" ? req.query.token : req.body?.token;
  const auth = req.headers.authorization || "";
  if (!token && auth.toLowerCase().startsWith("bearer ")) token = auth.slice(7).trim();
  req.tokendeskIntrospectToken = token;
  if (req.method === "GET") req.method = "POST"; // the library serves POST only
  service.requestHandler(req, res, next);
}
app.post("/introspect", form, jsonBody, introspect);
app.get("/introspect", introspect);

// userinfo (OIDC Core 5.3): only for a live access token, with the token's user (identity "sub": sub and email)
app.get("/userinfo", async (req, res) => {
  counters.userinfo += 1;
  logRequest(req);
  const fault = takeFault("userinfo");
  if (fault && (await applyBlockingFault(fault, res))) return;
  const auth = req.headers.authorization || "";
  const record = auth.toLowerCase().startsWith("bearer ") ? accessTokens.get(auth.slice(7).trim()) : undefined;
  if (tokenState(record) !== "active") {
    res.status(401).set("WWW-Authenticate", 'Bearer error="invalid_token"').json({ error: "invalid_token" });
    return;
  }
  const user = record.user;
  const body = options.identity === "sub" ? { sub: subjectOf(user), email: user } : { sub: user, preferred_username: user };
  res.json(body);
});

// everything else (jwks, endsession) goes to the library as it is
app.use((req, res, next) => service.requestHandler(req, res, next));

// ---- start
const server = createServer(app);
server.listen(PORT, HOST, () => {
  const { port } = server.address();
  const host = HOST.includes(":") ? `[${HOST}]` : HOST;
  issuer.url = `http://${host}:${port}`;
  process.stdout.write(JSON.stringify({ issuer: issuer.url, port }) + "\n");
});
server.on("error", (err) => {
  process.stderr.write(`oauth_server: ${err.message}\n`);
  process.exit(1);
});

function shutdown() {
  server.closeAllConnections?.();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
process.stdin.on("end", shutdown);
process.stdin.on("close", shutdown);
process.stdin.resume();
