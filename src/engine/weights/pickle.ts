/**
 * A small Python pickle reader and writer, limited to what PyTorch checkpoints use.
 *
 * Written by hand: no maintained JavaScript pickle library covers persistent ids and torch's
 * rebuild functions, and a checkpoint must never run code. Nothing here executes anything:
 * globals are resolved through a caller-supplied table, so a malicious pickle can at most build
 * inert placeholder objects.
 *
 * Python values map to: dict -> Map (insertion ordered), list and tuple -> Array, int -> number
 * (bigint beyond 2^53), float -> number, str -> string, bytes -> Uint8Array, None -> null.
 */

/** A Python global (class or function) the caller did not implement. Calling it yields a PyObject. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An instance of an unimplemented class, kept inert: its constructor arguments and BUILD state. */
export class PyObject {
  state: unknown = undefined;
  /** Items set by SETITEM(S) / APPEND(S) on the object (dict or list subclasses). */
  readonly items = new Map<unknown, unknown>();
  readonly appended: unknown[] = [];
  constructor(
    readonly cls: PyGlobal,
    readonly args: unknown[],
  ) {}
}

/** A callable the caller implements for a global (e.g. torch._utils._rebuild_tensor_v2). */
export type PyCallable = (...args: unknown[]) => unknown;

export interface UnpickleOptions {
  /** Resolves GLOBAL / STACK_GLOBAL; return a function to make it callable, or a PyGlobal placeholder. */
  findClass(module: string, name: string): PyCallable | PyGlobal | unknown;
  /** BINPERSID handler (PyTorch storages). */
  persistentLoad?(pid: unknown): unknown;
}

export interface UnpickleResult {
  value: unknown;
  /** Offset just past the STOP opcode (legacy .pt files hold several pickles back to back). */
  end: number;
}

const OPNAMES: Record<number, string> = {
  0x50: 'PERSID', 0x70: 'PUT', 0x67: 'GET', 0x49: 'INT', 0x4c: 'LONG', 0x46: 'FLOAT', 0x53: 'STRING', 0x56: 'UNICODE',
  0x69: 'INST', 0x6f: 'OBJ', 0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x96: 'BYTEARRAY8',
  0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x64: 'DICT', 0x6c: 'LIST', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP',
};

export function unpickle(bytes: Uint8Array, options: UnpickleOptions, start = 0): UnpickleResult {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder();
  const latin1 = new TextDecoder('latin1');
  const stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();
  let p = start;

  const need = (n: number) => {
    if (p + n > bytes.length) throw new Error(`pickle truncated at byte ${p}`);
  };
  const u8 = () => (need(1), bytes[p++]);
  const u16 = () => (need(2), (p += 2), view.getUint16(p - 2, true));
  const u32 = () => (need(4), (p += 4), view.getUint32(p - 4, true));
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(p, true);
    p += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('pickle length field too large');
    return Number(v);
  };
  const take = (n: number) => (need(n), (p += n), bytes.subarray(p - n, p));
  const line = () => {
    const e = bytes.indexOf(0x0a, p);
    if (e < 0) throw new Error(`pickle truncated at byte ${p}`);
    const s = decoder.decode(bytes.subarray(p, e));
    p = e + 1;
    return s;
  };
  const pop = () => {
    if (stack.length === 0) throw new Error(`pickle stack underflow at byte ${p}`);
    return stack.pop();
  };
  const popMark = (): unknown[] => {
    const items = stack.splice(0);
    const prev = metastack.pop();
    if (!prev) throw new Error(`pickle MARK missing at byte ${p}`);
    stack.push(...prev);
    return items;
  };
  const top = () => stack[stack.length - 1];
  const call = (fn: unknown, args: unknown[]): unknown => {
    if (typeof fn === 'function') return (fn as PyCallable)(...args);
    if (fn instanceof PyGlobal) return new PyObject(fn, args);
    throw new Error(`pickle tries to call a non-callable value (${describe(fn)})`);
  };
  const setItems = (d: unknown, kv: unknown[]) => {
    const target = d instanceof Map ? d : d instanceof PyObject ? d.items : null;
    if (!target) throw new Error(`pickle SETITEM on a non-dict (${describe(d)})`);
    for (let i = 0; i + 1 < kv.length; i += 2) target.set(kv[i], kv[i + 1]);
  };
  const appendItems = (l: unknown, items: unknown[]) => {
    const target = Array.isArray(l) ? l : l instanceof PyObject ? l.appended : null;
    if (!target) throw new Error(`pickle APPEND on a non-list (${describe(l)})`);
    target.push(...items);
  };
  const signed = (b: Uint8Array): number | bigint => {
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b.length > 0 && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  for (;;) {
    const at = p;
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: u64(); break; // FRAME (framing is only a read-ahead hint)
      case 0x2e: return { value: pop(), end: p }; // STOP
      case 0x28: metastack.push(stack.splice(0)); break; // MARK
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x4a: need(4); stack.push(view.getInt32(p, true)); p += 4; break; // BININT
      case 0x8a: stack.push(signed(take(u8()))); break; // LONG1
      case 0x8b: stack.push(signed(take(u32()))); break; // LONG4
      case 0x47: need(8); stack.push(view.getFloat64(p, false)); p += 8; break; // BINFLOAT (big-endian)
      case 0x58: stack.push(decoder.decode(take(u32()))); break; // BINUNICODE
      case 0x8c: stack.push(decoder.decode(take(u8()))); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(decoder.decode(take(u64()))); break; // BINUNICODE8
      case 0x54: stack.push(latin1.decode(take(u32()))); break; // BINSTRING (Python 2 str)
      case 0x55: stack.push(latin1.decode(take(u8()))); break; // SHORT_BINSTRING
      case 0x42: stack.push(take(u32()).slice()); break; // BINBYTES
      case 0x43: stack.push(take(u8()).slice()); break; // SHORT_BINBYTES
      case 0x8e: stack.push(take(u64()).slice()); break; // BINBYTES8
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); stack.push([pop(), b]); break; } // TUPLE2
      case 0x87: { const c = pop(), b = pop(); stack.push([pop(), b, c]); break; } // TUPLE3
      case 0x63: { const module = line(); stack.push(options.findClass(module, line())); break; } // GLOBAL
      case 0x93: { const name = pop(), module = pop(); stack.push(options.findClass(String(module), String(name))); break; } // STACK_GLOBAL
      case 0x52: { const args = pop(); stack.push(call(pop(), args as unknown[])); break; } // REDUCE
      case 0x81: { const args = pop(); stack.push(call(pop(), args as unknown[])); break; } // NEWOBJ
      case 0x62: { // BUILD
        const state = pop();
        const obj = top();
        // A dict's BUILD state is attributes such as a state dict's `_metadata`: not needed here.
        if (obj instanceof PyObject) obj.state = state;
        else if (!(obj instanceof Map)) throw new Error(`pickle BUILD on unsupported object (${describe(obj)}) at byte ${at}`);
        break;
      }
      case 0x73: { const v = pop(), k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const kv = popMark(); setItems(top(), kv); break; } // SETITEMS
      case 0x61: { const v = pop(); appendItems(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); appendItems(top(), items); break; } // APPENDS
      case 0x51: { // BINPERSID
        if (!options.persistentLoad) throw new Error(`pickle has a persistent id but no loader was given (byte ${at})`);
        stack.push(options.persistentLoad(pop()));
        break;
      }
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: stack.push(memoGet(memo, u8(), at)); break; // BINGET
      case 0x6a: stack.push(memoGet(memo, u32(), at)); break; // LONG_BINGET
      default:
        throw new Error(`unsupported pickle opcode ${OPNAMES[op] ?? `0x${op.toString(16).padStart(2, '0')}`} at byte ${at}`);
    }
  }
}

function memoGet(memo: Map<number, unknown>, i: number, at: number): unknown {
  if (!memo.has(i)) throw new Error(`pickle memo entry ${i} missing (byte ${at})`);
  return memo.get(i);
}

function describe(v: unknown): string {
  if (v instanceof PyGlobal) return v.qualifiedName;
  if (v instanceof PyObject) return `instance of ${v.cls.qualifiedName}`;
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'list/tuple';
  if (v instanceof Map) return 'dict';
  return typeof v;
}

/** Builds a protocol-2 pickle opcode by opcode; just what writing a state-dict checkpoint needs. */
export class PickleWriter {
  private chunks: Uint8Array[] = [];
  private size = 0;
  private readonly encoder = new TextEncoder();

  constructor() {
    this.bytes(0x80, 2); // PROTO 2
  }

  private bytes(...b: number[]): this {
    return this.raw(Uint8Array.from(b));
  }

  private raw(b: Uint8Array): this {
    this.chunks.push(b);
    this.size += b.length;
    return this;
  }

  mark(): this { return this.bytes(0x28); }
  emptyDict(): this { return this.bytes(0x7d); }
  emptyTuple(): this { return this.bytes(0x29); }
  tuple(): this { return this.bytes(0x74); }
  reduce(): this { return this.bytes(0x52); }
  setItem(): this { return this.bytes(0x73); }
  setItems(): this { return this.bytes(0x75); }
  binPersId(): this { return this.bytes(0x51); }
  bool(v: boolean): this { return this.bytes(v ? 0x88 : 0x89); }
  stop(): this { return this.bytes(0x2e); }

  global(module: string, name: string): this {
    return this.bytes(0x63).raw(this.encoder.encode(`${module}\n${name}\n`));
  }

  str(s: string): this {
    const b = this.encoder.encode(s);
    const head = new Uint8Array(5);
    head[0] = 0x58; // BINUNICODE
    new DataView(head.buffer).setUint32(1, b.length, true);
    return this.raw(head).raw(b);
  }

  int(v: number): this {
    if (!Number.isSafeInteger(v)) throw new Error(`cannot pickle ${v} as an int`);
    if (v >= 0 && v < 0x100) return this.bytes(0x4b, v);
    if (v >= 0 && v < 0x10000) return this.bytes(0x4d, v & 0xff, v >> 8);
    if (v >= -0x80000000 && v < 0x80000000) {
      const b = new Uint8Array(5);
      b[0] = 0x4a;
      new DataView(b.buffer).setInt32(1, v, true);
      return this.raw(b);
    }
    const b = new Uint8Array(10);
    b[0] = 0x8a; // LONG1, 8 bytes two's complement
    b[1] = 8;
    new DataView(b.buffer).setBigInt64(2, BigInt(v), true);
    return this.raw(b);
  }

  intTuple(values: readonly number[]): this {
    if (values.length === 0) return this.emptyTuple();
    this.mark();
    for (const v of values) this.int(v);
    return this.tuple();
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const c of this.chunks) out.set(c, o), (o += c.length);
    return out;
  }
}
