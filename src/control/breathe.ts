// The controller shares its process, and so its event loop, with the in-process edge and the API. Over SQLite every
// state read is synchronous under its promise, so a pass is one unbroken run of microtasks and no socket is served
// until it ends: a request the edge had just sent to a thawed instance waited for its answer through the two passes
// that followed the wake-up (10-60 ms on a loaded 2-core box, issue #23). During the passes a wake-up kicked, the
// controller's state reads call `breathe()`, which gives the event loop one turn once the work since the last turn
// passed a small budget (only then: controller.ts says why).

/** How much work (ms) may run between two turns of the event loop. */
export const BREATHE_BUDGET_MS = 1;

let lastTurn = 0;

/** Resolves after one turn of the event loop when the last one was more than the budget ago, else at once. */
export async function breathe(): Promise<void> {
  if (performance.now() - lastTurn < BREATHE_BUDGET_MS) return;
  await new Promise<void>((resolve) => setImmediate(resolve));
  lastTurn = performance.now();
}
