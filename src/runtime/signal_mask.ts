/** Reading the signal masks of `/proc/PID/status` (SigIgn, SigCgt, SigBlk). */

/** The last standard signal; real-time ones have no name to listen to. */
const LAST_STANDARD_SIGNAL = 31;

/** The signal numbers set in a `/proc/PID/status` mask line's hex value. */
export function signalsInMask(hex: string): number[] {
  const mask = BigInt(`0x${hex}`);
  const signals: number[] = [];
  for (let signal = 1; signal <= LAST_STANDARD_SIGNAL; signal++) {
    if ((mask >> BigInt(signal - 1)) & 1n) signals.push(signal);
  }
  return signals;
}
