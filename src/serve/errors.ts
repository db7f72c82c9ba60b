// The server's errors, in text-embeddings-inference's shape ({"error", "error_type"}) on its
// routes and OpenAI's ({"error": {"message", "type", "param", "code"}}) on /v1/embeddings.
//
// Status codes: validation and tokenizer errors 422, an empty batch 400, overload 429, a body over
// the payload limit 413, a model that cannot serve the route (or failed) 424, not ready 503, a
// missing or wrong API key 401. (TEI v1.x answers its "validation" errors with 413; here 413 is
// kept for the body limit alone and validation is 422, as HTTP means it.)

export type ErrorType =
  | "validation"
  | "tokenizer"
  | "empty"
  | "overloaded"
  | "backend"
  | "unhealthy"
  | "unauthorized"
  | "not_found"
  | "method_not_allowed";

const STATUS: Record<ErrorType, number> = {
  validation: 422,
  tokenizer: 422,
  empty: 400,
  overloaded: 429,
  backend: 424,
  unhealthy: 503,
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
};

/** An error answered to the client; `status` defaults to the type's. */
export class ServeError extends Error {
  override name = "ServeError";
  readonly status: number;
  constructor(
    readonly type: ErrorType,
    message: string,
    status?: number,
  ) {
    super(message);
    this.status = status ?? STATUS[type];
  }
}

/** The metric label TEI counts failures under (te_request_failure{err=...}). */
export function failureLabel(e: ServeError): string {
  if (e.status === 413) return "payload_limit";
  if (/batch size/.test(e.message)) return "batch_size";
  return e.type;
}

export function teiErrorBody(e: ServeError): string {
  return JSON.stringify({ error: e.message, error_type: e.type });
}

/** OpenAI's error object: what openai-node and openai-python read. */
export function openaiErrorBody(e: ServeError): string {
  const type =
    e.status === 401
      ? "invalid_request_error"
      : e.status === 429
        ? "rate_limit_exceeded"
        : e.status >= 500 || e.status === 424
          ? "server_error"
          : "invalid_request_error";
  return JSON.stringify({ error: { message: e.message, type, param: null, code: e.type } });
}

/** Quoted values in messages, cut to a readable length. */
export function quote(v: unknown, max = 60): string {
  if (v === undefined) return "nothing (the field is missing)";
  let s: string;
  try {
    s = typeof v === "string" ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  } catch {
    s = String(v);
  }
  return s.length > max ? s.slice(0, max) + "…" : s;
}
