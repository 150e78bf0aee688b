/**
 * A small classic-BPF assembler for seccomp filters: 32-bit absolute loads, conditional jumps on
 * constants and returns, with forward labels. Also an interpreter, so filters are testable
 * without installing them.
 */

/** One encoded `struct sock_filter`. */
export interface BpfInstruction {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

/** Where a conditional jump goes: a label, or the next instruction. */
export type BpfTarget = string | null;

/** One line of assembly. */
export type BpfOp =
  | { readonly op: "ld"; readonly offset: number }
  | {
    readonly op: "jeq" | "jge" | "jset";
    readonly k: number;
    readonly then: BpfTarget;
    readonly else: BpfTarget;
  }
  | { readonly op: "ret"; readonly k: number }
  | { readonly op: "label"; readonly name: string };

/** Opcodes of the instructions the assembler emits. */
export const BPF = {
  LD_W_ABS: 0x20,
  JEQ_K: 0x15,
  JGE_K: 0x35,
  JSET_K: 0x45,
  RET_K: 0x06,
} as const;

const JUMP_CODES = { jeq: BPF.JEQ_K, jge: BPF.JGE_K, jset: BPF.JSET_K } as const;

/** Assembles `ops`; throws on an unknown or backward label or a jump longer than 255. */
export function assemble(ops: readonly BpfOp[]): BpfInstruction[] {
  const labels = new Map<string, number>();
  let index = 0;
  for (const op of ops) {
    if (op.op === "label") {
      if (labels.has(op.name)) throw new RangeError(`duplicate label ${op.name}`);
      labels.set(op.name, index);
    } else {
      index++;
    }
  }
  const out: BpfInstruction[] = [];
  for (const op of ops) {
    const at = out.length;
    switch (op.op) {
      case "label":
        break;
      case "ld":
        out.push({ code: BPF.LD_W_ABS, jt: 0, jf: 0, k: op.offset >>> 0 });
        break;
      case "jeq":
      case "jge":
      case "jset":
        out.push({
          code: JUMP_CODES[op.op],
          jt: jumpOffset(labels, op.then, at),
          jf: jumpOffset(labels, op.else, at),
          k: op.k >>> 0,
        });
        break;
      case "ret":
        out.push({ code: BPF.RET_K, jt: 0, jf: 0, k: op.k >>> 0 });
        break;
      default: {
        const never: never = op;
        throw new TypeError(`unknown op ${JSON.stringify(never)}`);
      }
    }
  }
  return out;
}

function jumpOffset(labels: ReadonlyMap<string, number>, target: BpfTarget, at: number): number {
  if (target === null) return 0;
  const destination = labels.get(target);
  if (destination === undefined) throw new RangeError(`unknown label ${target}`);
  const offset = destination - at - 1;
  if (offset < 0) throw new RangeError(`backward jump to ${target}`);
  if (offset > 255) throw new RangeError(`jump to ${target} is ${offset} instructions long`);
  return offset;
}

/** Encodes instructions as the kernel reads them (8 bytes each, little-endian). */
export function encode(instructions: readonly BpfInstruction[]): Uint8Array {
  const bytes = new Uint8Array(instructions.length * 8);
  const view = new DataView(bytes.buffer);
  instructions.forEach((instruction, i) => {
    view.setUint16(i * 8, instruction.code, true);
    view.setUint8(i * 8 + 2, instruction.jt);
    view.setUint8(i * 8 + 3, instruction.jf);
    view.setUint32(i * 8 + 4, instruction.k, true);
  });
  return bytes;
}

/** Runs a filter over `data` (a `struct seccomp_data`) and returns the value it returns. */
export function runFilter(instructions: readonly BpfInstruction[], data: Uint8Array): number {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let accumulator = 0;
  let pc = 0;
  for (let steps = 0; steps <= instructions.length; steps++) {
    const instruction = instructions[pc];
    if (instruction === undefined) throw new RangeError(`filter ran off its end at ${pc}`);
    switch (instruction.code) {
      case BPF.LD_W_ABS:
        accumulator = view.getUint32(instruction.k, true);
        pc++;
        break;
      case BPF.JEQ_K:
        pc += 1 + (accumulator === instruction.k ? instruction.jt : instruction.jf);
        break;
      case BPF.JGE_K:
        pc += 1 + (accumulator >= instruction.k ? instruction.jt : instruction.jf);
        break;
      case BPF.JSET_K:
        pc += 1 + ((accumulator & instruction.k) !== 0 ? instruction.jt : instruction.jf);
        break;
      case BPF.RET_K:
        return instruction.k;
      default:
        throw new RangeError(`unknown opcode ${instruction.code}`);
    }
  }
  throw new RangeError("filter did not return");
}
