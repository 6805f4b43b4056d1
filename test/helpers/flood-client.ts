// A verify flood from a process of its own, so that the senders' work does not run on the event
// loop of the server under test. Reads {url, bodies, total, senders} as JSON on stdin; writes
// "started" when the first request goes out, then one JSON line with every answer.

interface Plan {
  url: string;
  bodies: unknown[];
  total: number;
  senders: number;
}

interface Answer {
  body: number;
  status: number;
  code?: string;
  outcome?: string;
  retryAfter: string | null;
}

async function main(): Promise<void> {
  let input = "";
  for await (const chunk of process.stdin) input += String(chunk);
  const plan = JSON.parse(input) as Plan;
  const payloads = plan.bodies.map((b) => JSON.stringify(b));
  const answers: Answer[] = [];
  let next = 0;
  const sender = async () => {
    while (next < plan.total) {
      const i = next++;
      const res = await fetch(plan.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: payloads[i % payloads.length] as string,
      });
      const body = (await res.json()) as { outcome?: string; code?: string; error?: { code: string } };
      const code = body.error?.code ?? body.code;
      answers.push({
        body: i % payloads.length,
        status: res.status,
        ...(code === undefined ? {} : { code }),
        ...(body.outcome === undefined ? {} : { outcome: body.outcome }),
        retryAfter: res.headers.get("retry-after"),
      });
    }
  };
  process.stdout.write("started\n");
  await Promise.all(Array.from({ length: plan.senders }, sender));
  process.stdout.write(`${JSON.stringify(answers)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
