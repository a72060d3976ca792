// Serving one worker for the benchmarks: workerd through Miniflare on loopback, with the
// workerd process's CPU time and resident memory read from /proc.
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { Miniflare } from "miniflare";
import { WASM_WORKER } from "../tests/e2e/harness.mjs";

/** Options for a plain JavaScript worker of bench/. */
export const jsWorker = (scriptPath) => ({ scriptPath, modules: true, compatibilityDate: WASM_WORKER.compatibilityDate });
export { WASM_WORKER };

/**
 * Keeps the measured workerd and this process (the load generator and the origin) on separate
 * CPUs, where there are two or more and `taskset` exists, so that they do not compete for one.
 */
function pinApart(workerdPid) {
  const cpus = availableParallelism();
  if (cpus < 2) return;
  try {
    execFileSync("taskset", ["-a", "-p", "-c", String(cpus - 1), String(workerdPid)], { stdio: "ignore" });
    execFileSync("taskset", ["-a", "-p", "-c", `0-${cpus - 2}`, String(process.pid)], { stdio: "ignore" });
  } catch {
    // No taskset: the figures are only noisier.
  }
}

/**
 * Serves `worker` (Miniflare options) with `bindings`; its log lines are read and discarded.
 * `pin` puts workerd on a CPU of its own.
 */
export async function serve(worker, bindings, { pin = false } = {}) {
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    bindings,
    handleRuntimeStdio: (stdout, stderr) => {
      stdout.resume();
      stderr.resume();
    },
    ...worker,
  });
  const url = await mf.ready;
  const ps = execFileSync("ps", ["-o", "pid=,comm=", "--ppid", String(process.pid)], { encoding: "utf8" });
  const line = ps.split("\n").find((l) => l.includes("workerd"));
  if (!line) throw new Error("workerd process not found");
  const pid = Number(line.trim().split(/\s+/)[0]);
  if (pin) pinApart(pid);
  return {
    url,
    /** CPU time in µs of every thread of the workerd process. */
    cpuMicros() {
      let ns = 0;
      for (const task of readdirSync(`/proc/${pid}/task`)) {
        ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
      }
      return ns / 1000;
    },
    /** Resident memory of the workerd process in MiB. */
    rssMiB: () => Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)[1]) / 1024,
    dispose: () => mf.dispose(),
  };
}
