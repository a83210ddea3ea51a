import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import {
  endMaintenance,
  isHelixError,
  liftMemberPlacements,
  liftPlacement,
  moveMemberPartitions,
  movePartition,
  pinPartition,
  PlacementRefusedError,
  resolveTaskListSpec,
  startMaintenance,
  UnknownTaskListError,
  type Catalog,
  type MaintenanceOptions,
  type PartitionAddress,
  type PlacementOptions,
} from "@helix/coordinator";
import { findHelixError, schemaStatus, type ConnectionSource } from "@helix/db";
import type { Logger } from "pino";

import { hostCheck } from "./hosts";
import type { ServiceMetrics } from "./metrics";
import { statusPage } from "./page";
import type { ClusterStatus } from "./status";

/** What the HTTP server serves from. */
export interface HttpContext {
  /** What `/readyz` checks. The service gives the HTTP requests' own pool, not the coordinators'. */
  readonly pool: ConnectionSource;
  readonly clusters: readonly string[];
  readonly adminToken: string | null;
  /**
   * Host names answered besides localhost names and IP addresses, as HELIX_ALLOWED_HOSTS entries
   * (`*`: any). The service adds the address it binds. Default: none.
   */
  readonly allowedHosts?: readonly string[];
  readonly metrics: ServiceMetrics;
  /**
   * A cluster's status, called for every `/api/status` request: give one that shares reads (the
   * service reuses each cluster's for its configuration's `http.statusCacheMs`).
   */
  readonly status: (cluster: string) => Promise<ClusterStatus>;
  /**
   * A served cluster's catalog, for the endpoints that change it. It is opened once and kept by
   * whoever made the context (the service's `ClusterRegistry`), not per request: opening one
   * checks the schema. The handler never closes it.
   */
  readonly catalog: (cluster: string) => Promise<Catalog>;
  readonly logger: Logger;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_BODY_BYTES = 64 * 1024;

/**
 * Refuses (403) requests whose `Host` is not allowed (see {@link hostCheck}), except health probes.
 * Serves:
 * - `GET /healthz`: the process is up;
 * - `GET /readyz`: the database answers and its schema is current (503 otherwise);
 * - `GET /metrics`: Prometheus metrics;
 * - `GET /api/status` (`?cluster=` for one): each cluster's status as JSON;
 * - `GET /`: the live status page;
 * - `PUT /api/clusters/:cluster/tasklists/:domain/:taskList` with `{"partitions": n, "metadata": {}}`
 *   and `DELETE` of the same path: change the catalog;
 * - `PUT /api/clusters/:cluster/maintenance` (or `.../tasklists/:domain/:taskList/maintenance`) with
 *   `{"reason": "...", "expiresInMs": n, "actor": "..."}` and `DELETE` of the same path: start (or
 *   change) and end maintenance of the cluster or the task list (see `startMaintenance`);
 * - `PUT /api/clusters/:cluster/tasklists/:domain/:taskList/partitions/:partition/placement` with
 *   `{"nodeId": "...", "kind": "pin" | "move", "reason": "...", "actor": "..."}` and `DELETE` of the
 *   same path: pin or move a partition to a live member, or lift that (see `pinPartition`);
 * - `POST /api/clusters/:cluster/members/:nodeId/move` with `{"to": "...", "reason": "...", "actor": "..."}`:
 *   move all of a member's partitions to another (see `moveMemberPartitions`); `DELETE
 *   /api/clusters/:cluster/members/:nodeId/placements`: lift every pin and move on a member;
 *
 * the endpoints that change state need `Authorization: Bearer <token>` and are refused when the
 * service has no token.
 */
export function createHttpServer(context: HttpContext): Server {
  const hostAllowed = hostCheck(context.allowedHosts ?? []);
  return createServer((request, response) => {
    handle(context, hostAllowed, request, response).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : isHelixError(error, "HELIX_INVALID_ARGUMENT") ? 400 : 500;
      if (status === 500) context.logger.error({ err: error, path: request.url }, "request failed");
      if (status !== 500) return send(response, status, { error: (error as Error).message, code: (error as { code?: string }).code });
      // A failure's message may carry a driver's text (hosts, users, SQL), even inside a Helix
      // error: it goes to the log only, and the client gets the Helix code at most.
      const code = findHelixError(error)?.code;
      const what = code === "HELIX_DATABASE_UNAVAILABLE" ? "the database is unavailable" : "internal error";
      send(response, 500, { error: `${what}: see the service's log`, code });
    });
  });
}

async function handle(
  context: HttpContext,
  hostAllowed: (host: string | undefined) => boolean,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const url = new URL(request.url ?? "/", "http://localhost");
  const path = url.pathname;
  const method = request.method ?? "GET";
  // The probes answer any Host: the kubelet sends the pod's IP or whatever Host the probe is given,
  // and a rebinding page learns nothing from them (no data, no change, no driver message).
  if (method === "GET" && path === "/healthz") return send(response, 200, { status: "ok" });
  if (method === "GET" && path === "/readyz") return ready(context, response);
  const host = request.headers.host;
  if (!hostAllowed(host)) {
    // Debug, like the other refusals: the answer tells the client what to do, and a page that keeps
    // trying must not fill the log.
    context.logger.debug({ host, path }, "request refused: Host not allowed");
    throw new HttpError(
      403,
      `Host ${shown(host ?? "")} is not allowed: add its name to HELIX_ALLOWED_HOSTS (a defence against DNS rebinding)`,
    );
  }
  if (method === "GET" && path === "/metrics") {
    const text = await context.metrics.registry.metrics();
    response.writeHead(200, { "content-type": context.metrics.registry.contentType });
    response.end(text);
    return;
  }
  if (method === "GET" && path === "/api/status") {
    const only = url.searchParams.get("cluster");
    if (only !== null && !context.clusters.includes(only)) throw new HttpError(404, `cluster ${shown(only)} is not served here`);
    const clusters = await Promise.all((only === null ? context.clusters : [only]).map((c) => context.status(c)));
    return send(response, 200, { clusters });
  }
  if (method === "GET" && (path === "/" || path === "/index.html")) {
    response.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    response.end(statusPage());
    return;
  }
  const maintenance = /^\/api\/clusters\/([^/]+)(?:\/tasklists\/([^/]*)\/([^/]*))?\/maintenance$/.exec(path);
  if (maintenance !== null && (method === "PUT" || method === "DELETE")) return changeMaintenance(context, maintenance, request, response);
  const placement =
    /^\/api\/clusters\/([^/]+)\/(?:tasklists\/([^/]*)\/([^/]*)\/partitions\/([^/]*)\/placement|members\/([^/]*)\/(move|placements))$/.exec(
      path,
    );
  if (placement !== null && (method === (placement[6] === "move" ? "POST" : "PUT") || method === "DELETE"))
    return changePlacement(context, placement, request, response);
  const taskList = /^\/api\/clusters\/([^/]+)\/tasklists\/([^/]*)\/([^/]*)$/.exec(path);
  if (taskList !== null && (method === "PUT" || method === "DELETE")) {
    authorize(context, request);
    const segment = (i: number, part: string): string => decodeSegment(taskList[i] ?? "", part);
    const [cluster, domain, name] = [segment(1, "cluster"), segment(2, "domain"), segment(3, "task list")];
    if (!context.clusters.includes(cluster)) throw new HttpError(404, `cluster ${shown(cluster)} is not served here`);
    // Checked before the catalog is opened: bad input is the client's (400) and touches nothing.
    const body =
      method === "PUT"
        ? ((await readJson(request, '{"partitions": 8}')) as { partitions?: unknown; metadata?: unknown })
        : { partitions: 1 };
    const spec = {
      domain,
      taskList: name,
      partitions: body.partitions as number,
      metadata: body.metadata as Record<string, unknown> | undefined,
    };
    resolveTaskListSpec(spec);
    const catalog = await context.catalog(cluster);
    try {
      if (method === "DELETE") {
        await catalog.removeTaskList(domain, name);
        context.logger.info({ cluster, domain, taskList: name }, "task list removed");
        return send(response, 200, { removed: `${domain}/${name}` });
      }
      const result = await catalog.putTaskList(spec);
      context.logger.info({ cluster, domain, taskList: name, partitions: body.partitions, result }, "task list put");
      return send(response, 200, { result });
    } catch (error) {
      throw answerFor(error);
    }
  }
  if (taskList !== null || maintenance !== null || placement !== null || path.startsWith("/api/"))
    throw new HttpError(405, `${shown(method)} ${shown(path)} is not supported`);
  throw new HttpError(404, `nothing at ${shown(path)}`);
}

/**
 * `PUT` / `DELETE` of a maintenance path: starts (or changes) or ends the maintenance of a served
 * cluster or of one of its task lists. The actor is the body's, or the client's address.
 */
async function changeMaintenance(
  context: HttpContext,
  match: RegExpExecArray,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const cluster = servedCluster(context, request, match[1] ?? "");
  const taskList =
    match[2] === undefined
      ? undefined
      : { domain: decodeSegment(match[2], "domain"), taskList: decodeSegment(match[3] ?? "", "task list") };
  const scope = taskList === undefined ? { cluster } : { cluster, ...taskList };
  if (request.method === "DELETE") {
    const ended = await endMaintenance(context.pool, cluster, taskList);
    if (ended) context.logger.info(scope, "maintenance ended");
    return send(response, 200, { ended });
  }
  const body = (await readJson(request, '{"reason": "upgrading the database", "expiresInMs": 3600000}')) as Partial<
    Record<keyof MaintenanceOptions, unknown>
  >;
  const options = {
    reason: body.reason,
    actor: body.actor ?? `http ${request.socket.remoteAddress ?? "client"}`,
    expiresInMs: body.expiresInMs,
    taskList,
  } as MaintenanceOptions;
  try {
    const started = await startMaintenance(context.pool, cluster, options);
    context.logger.info({ ...scope, reason: started.reason, actor: started.actor, expiresAt: started.expiresAt }, "maintenance on");
    return send(response, 200, { maintenance: started });
  } catch (error) {
    throw answerFor(error);
  }
}

/**
 * `PUT` / `DELETE` of a partition's placement path, `POST` of a member's move path and `DELETE` of
 * its placements path: pins or moves partitions to a live member, or lifts that. The actor is the
 * body's, or the client's address. A refused placement (a member not live or draining, no such
 * partition) is a conflict (409) and writes nothing.
 */
async function changePlacement(
  context: HttpContext,
  match: RegExpExecArray,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const cluster = servedCluster(context, request, match[1] ?? "");
  const deleting = request.method === "DELETE";
  const body = deleting
    ? {}
    : ((await readJson(request, match[5] === undefined ? '{"nodeId": "worker-2", "kind": "pin"}' : '{"to": "worker-2"}')) as Record<
        string,
        unknown
      >);
  const options = { reason: body.reason, actor: body.actor ?? `http ${request.socket.remoteAddress ?? "client"}` } as PlacementOptions;
  try {
    if (match[5] !== undefined) {
      const nodeId = decodeSegment(match[5], "node id");
      if (deleting) return send(response, 200, { lifted: await liftMemberPlacements(context.pool, cluster, nodeId) });
      const moved = await moveMemberPartitions(context.pool, cluster, nodeId, body.to as string, options);
      context.logger.info({ cluster, from: nodeId, to: body.to, moved, actor: options.actor }, "partitions moved");
      return send(response, 200, { moved });
    }
    const partitionText = decodeSegment(match[4] ?? "", "partition");
    const partition = {
      domain: decodeSegment(match[2] ?? "", "domain"),
      taskList: decodeSegment(match[3] ?? "", "task list"),
      partition: /^\d{1,9}$/.test(partitionText) ? Number(partitionText) : partitionText,
    } as PartitionAddress;
    if (deleting) return send(response, 200, { lifted: await liftPlacement(context.pool, cluster, partition) });
    if (body.kind !== "pin" && body.kind !== "move") throw new HttpError(400, 'the body\'s "kind" must be "pin" or "move"');
    const place = body.kind === "pin" ? pinPartition : movePartition;
    const placed = await place(context.pool, cluster, partition, body.nodeId as string, options);
    context.logger.info({ cluster, ...partition, nodeId: placed.nodeId, kind: placed.kind, actor: placed.actor }, "partition placed");
    return send(response, 200, { placement: placed });
  } catch (error) {
    throw answerFor(error);
  }
}

/** After checking the token: the served cluster the path's `segment` names (404 for another). */
function servedCluster(context: HttpContext, request: IncomingMessage, segment: string): string {
  authorize(context, request);
  const cluster = decodeSegment(segment, "cluster");
  if (!context.clusters.includes(cluster)) throw new HttpError(404, `cluster ${shown(cluster)} is not served here`);
  return cluster;
}

/** A refusal by the library as the answer it calls for: an unknown task list is 404, a refused placement 409. */
function answerFor(error: unknown): unknown {
  if (error instanceof UnknownTaskListError) return new HttpError(404, error.message);
  if (error instanceof PlacementRefusedError) return Object.assign(new HttpError(409, error.message), { code: error.code });
  return error;
}

/** A value from the request as an answer quotes it: cut short when long (the answer says what to fix). */
function shown(value: string): string {
  return value.length > 60 ? `${JSON.stringify(value.slice(0, 60))}... (${value.length} characters)` : JSON.stringify(value);
}

/** `/readyz`: 200 when the database answers and its schema is current, else 503. */
async function ready(context: HttpContext, response: ServerResponse): Promise<void> {
  try {
    const schema = await schemaStatus(context.pool);
    if (schema.pending.length > 0) return send(response, 503, { status: "not migrated", pending: schema.pending });
    return send(response, 200, { status: "ready", schemaVersion: schema.version });
  } catch (error) {
    // Driver messages name hosts, users and statements: an unauthenticated probe gets Helix's code
    // at most, the log gets the whole error.
    context.logger.warn({ err: error }, "readiness check failed");
    const code = findHelixError(error)?.code;
    return send(response, 503, code === undefined ? { status: "database unavailable" } : { status: "database unavailable", code });
  }
}

/** Percent-decodes one segment of the path: a malformed escape is the client's mistake (400). */
function decodeSegment(segment: string, part: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(
      400,
      `the ${part} in the path has a malformed percent-escape (${shown(segment)}): write "%" as %25 and other characters as their UTF-8 bytes in %XX`,
    );
  }
}

function authorize(context: HttpContext, request: IncomingMessage): void {
  if (context.adminToken === null) {
    throw new HttpError(403, "endpoints that change state are disabled: start the service with HELIX_ADMIN_TOKEN set");
  }
  const given = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1] ?? "";
  const expected = Buffer.from(context.adminToken);
  const actual = Buffer.from(given);
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    throw new HttpError(401, "missing or wrong token: send Authorization: Bearer <HELIX_ADMIN_TOKEN>");
  }
}

/** The request's body, a JSON object; `example` shows one in the answer to a body that is not. */
async function readJson(request: IncomingMessage, example: string): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `the body must be at most ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not an object");
    return value;
  } catch {
    throw new HttpError(400, `the body must be a JSON object such as ${example}`);
  }
}

function send(response: ServerResponse, status: number, body: unknown): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  response.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  response.end(JSON.stringify(body));
}

/** Starts listening; resolves with the base URL. */
export function listen(server: Server, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const address = server.address() as AddressInfo;
      const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
      resolve(`http://${shownHost}:${address.port}`);
    });
  });
}
