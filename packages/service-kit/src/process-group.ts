import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/**
 * Child processes each in their own process group, stopped as groups: a signal to the group
 * reaches whatever the child started (a loader's grandchild, a shell's command), and nothing
 * it started outlives it. For launchers (`npm start`), not for services.
 */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface GroupChild {
  name: string;
  pid: number;
  process: ChildProcess;
  /** Resolves once, when the child has exited (or failed to spawn: code null, signal null). */
  exited: Promise<ChildExit>;
  /** The exit, once known. */
  exit?: ChildExit;
}

export function spawnInGroup(name: string, command: string, args: string[], opts: Omit<SpawnOptions, 'detached'> = {}): GroupChild {
  const proc = spawn(command, args, { ...opts, detached: true });
  if (proc.pid === undefined) throw new Error(`${name}: could not spawn ${command}`);
  const entry: GroupChild = {
    name,
    pid: proc.pid,
    process: proc,
    exited: new Promise<ChildExit>((resolve) => {
      proc.once('exit', (code, signal) => {
        entry.exit = { code, signal };
        resolve(entry.exit);
      });
      proc.once('error', () => {
        // 'exit' may not follow an error (e.g. the command could not run).
        if (proc.exitCode === null && proc.signalCode === null && proc.pid === undefined) {
          entry.exit = { code: null, signal: null };
          resolve(entry.exit);
        }
      });
    }),
  };
  return entry;
}

/** Sends `signal` to the child's whole process group; false when the group is already gone. */
export function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch (err) {
    if (typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ESRCH') return false;
    throw err;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** Waits until no process of the group is left, at most `ms`; true when it emptied. */
async function groupGone(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (signalGroup(pid, 0)) {
    if (Date.now() >= until) return false;
    await sleep(50);
  }
  return true;
}

export interface StopGroupsOptions {
  /** How long the groups get to stop after SIGTERM before SIGKILL. */
  graceMs: number;
  /** How long to wait for the groups to vanish after SIGKILL. Default 5 s. */
  killWaitMs?: number;
  onKill?: (child: GroupChild) => void;
}

/**
 * SIGTERM to every child's group; the groups still alive after `graceMs` get SIGKILL. Resolves
 * with the names of the children that had to be killed and of any group still present after the
 * kill wait (which should never happen: SIGKILL cannot be caught).
 */
export async function stopGroups(children: GroupChild[], opts: StopGroupsOptions): Promise<{ killed: string[]; survived: string[] }> {
  for (const c of children) signalGroup(c.pid, 'SIGTERM');
  const killed: string[] = [];
  const survived: string[] = [];
  await Promise.all(
    children.map(async (c) => {
      if (await groupGone(c.pid, opts.graceMs)) return;
      killed.push(c.name);
      opts.onKill?.(c);
      signalGroup(c.pid, 'SIGKILL');
      if (!(await groupGone(c.pid, opts.killWaitMs ?? 5_000))) survived.push(c.name);
    }),
  );
  return { killed, survived };
}
