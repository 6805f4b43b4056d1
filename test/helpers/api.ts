import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from "fastify";
import type { TestStack } from "./stack";

// What every API test asserts on every response, and the small vocabulary the API suites share.

export type TestTenant = Awaited<ReturnType<TestStack["tenant"]>>;

export const bearer = (t: TestTenant) => ({ authorization: `Bearer ${t.apiKey}` });

/**
 * Injects a request and checks the response contract: an error body is exactly
 * `{error: {code, message}}`, and no body carries a stack trace.
 */
export async function call(app: FastifyInstance, options: InjectOptions): Promise<LightMyRequestResponse> {
  const res = await app.inject(options);
  expect(res.body).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
  if (res.statusCode >= 400) {
    const body = res.json();
    expect(Object.keys(body)).toEqual(["error"]);
    expect(Object.keys(body.error).sort()).toEqual(["code", "message"]);
  }
  return res;
}

/** Asserts status and error code together (never the message text). */
export function expectError(res: LightMyRequestResponse, status: number, code: string): void {
  expect({ status: res.statusCode, code: res.json().error?.code }).toEqual({ status, code });
}

/**
 * Sends `send()` until `done` holds for its answer, and returns that answer: the promise that a
 * revoked key or a disabled tenant is refused within `withinMs` (API_KEY_CACHE_MS) of the
 * change, which was committed before `since`. An answer from before the change counts only for
 * a request sent while the promise still allowed it, so a broken promise fails however fast or
 * slow the machine is.
 */
export async function expectWithin<T>(
  withinMs: number,
  since: number,
  send: () => Promise<T>,
  done: (answer: T) => boolean,
): Promise<T> {
  for (;;) {
    const sentAt = Date.now();
    const answer = await send();
    if (done(answer)) return answer;
    expect(sentAt - since).toBeLessThan(withinMs);
    await new Promise((r) => setTimeout(r, 20));
  }
}
