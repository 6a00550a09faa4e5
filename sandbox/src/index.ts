/**
 * @intellifin/sandbox: faithful local simulators of Mono, MTN MoMo, Airtel Money and OneSignal.
 * See sandbox/README.md for what each simulator implements and the /__sandbox control API.
 */
import { startAirtel, AIRTEL_DEFAULT_PORT, type AirtelOptions } from './airtel';
import { startMomo, MOMO_DEFAULT_PORT, type MomoOptions } from './momo';
import { startMono, MONO_DEFAULT_PORT, type MonoOptions } from './mono';
import { startOneSignal, ONESIGNAL_DEFAULT_PORT, type OneSignalOptions } from './onesignal';
import type { AirtelState } from './airtel/state';
import type { MomoState } from './momo/state';
import type { MonoState } from './mono/state';
import type { OneSignalState } from './onesignal/state';
import type { CommonOptions } from './shared/options';
import type { RunningSimulator } from './shared/server';

export { startMono, startMomo, startAirtel, startOneSignal };
export { createMono } from './mono';
export { createMomo } from './momo';
export { createAirtel } from './airtel';
export { createOneSignal } from './onesignal';
export type { MonoOptions, MomoOptions, AirtelOptions, OneSignalOptions, RunningSimulator, CommonOptions };
export { MONO_DEFAULT_PORT, MOMO_DEFAULT_PORT, AIRTEL_DEFAULT_PORT, ONESIGNAL_DEFAULT_PORT };

type Shared = Omit<CommonOptions, 'port'>;

export interface SandboxOptions extends Shared {
  /** Per-simulator ports; 0 = any free port. Defaults 4010/4020/4030/4040. */
  ports?: { mono?: number; momo?: number; airtel?: number; onesignal?: number };
  mono?: Omit<MonoOptions, keyof CommonOptions>;
  momo?: Omit<MomoOptions, keyof CommonOptions>;
  airtel?: Omit<AirtelOptions, keyof CommonOptions>;
  onesignal?: Omit<OneSignalOptions, keyof CommonOptions>;
}

export interface Sandbox {
  mono: RunningSimulator<MonoState>;
  momo: RunningSimulator<MomoState>;
  airtel: RunningSimulator<AirtelState>;
  onesignal: RunningSimulator<OneSignalState>;
  close(): Promise<void>;
}

/** Start all four simulators (each on its own base URL) with one seed, epoch and clock mode. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const shared: Shared = { seed: options.seed, epoch: options.epoch, clock: options.clock, host: options.host };
  const ports = options.ports ?? {};
  const started: RunningSimulator<unknown>[] = [];
  try {
    const mono = await startMono({ ...shared, ...options.mono, port: ports.mono ?? MONO_DEFAULT_PORT });
    started.push(mono);
    const momo = await startMomo({ ...shared, ...options.momo, port: ports.momo ?? MOMO_DEFAULT_PORT });
    started.push(momo);
    const airtel = await startAirtel({ ...shared, ...options.airtel, port: ports.airtel ?? AIRTEL_DEFAULT_PORT });
    started.push(airtel);
    const onesignal = await startOneSignal({ ...shared, ...options.onesignal, port: ports.onesignal ?? ONESIGNAL_DEFAULT_PORT });
    started.push(onesignal);
    return {
      mono,
      momo,
      airtel,
      onesignal,
      async close() {
        await Promise.all(started.map((s) => s.close()));
      },
    };
  } catch (e) {
    await Promise.all(started.map((s) => s.close()));
    throw e;
  }
}
