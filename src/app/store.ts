/**
 * App state in one small zustand store: the scan on screen, the label layers over it, what the
 * app is busy with, and the messages shown to the user. Components read slices of it; actions
 * that talk to the engine live in `actions.ts`.
 */
import { create } from 'zustand';
import type { Volume } from '../engine/volume';
import type { SeriesSummary } from '../engine/io/load';
import type { NamedBytes } from '../engine/io/named-bytes';
import type { PresetName } from '../viewer/presets';

export interface Scan {
  /** Stable key for persistence: file name + dims + first voxels' checksum. */
  key: string;
  name: string;
  volume: Volume;
}

export interface LabelLayer {
  id: string;
  name: string;
  kind: 'observer' | 'model' | 'consensus';
  color: [number, number, number];
  visible: boolean;
  opacity: number;
  data: Uint8Array;
}

export interface Message {
  id: number;
  level: 'error' | 'warning' | 'info';
  text: string;
}

export interface Busy {
  label: string;
  /** 0..1, or null when unknown. */
  progress: number | null;
  cancel?: () => void;
}

interface State {
  scan: Scan | null;
  layers: LabelLayer[];
  busy: Busy | null;
  messages: Message[];
  preset: PresetName;
  /** Several series in one drop: the user picks one; the files wait here meanwhile. */
  pendingSeries: { series: SeriesSummary[]; files: NamedBytes[] } | null;
  setScan: (scan: Scan) => void;
  setBusy: (busy: Busy | null) => void;
  setPreset: (preset: PresetName) => void;
  setPendingSeries: (p: State['pendingSeries']) => void;
  notify: (level: Message['level'], text: string) => void;
  dismiss: (id: number) => void;
}

let nextMessageId = 1;

export const useStore = create<State>((set) => ({
  scan: null,
  layers: [],
  busy: null,
  messages: [],
  preset: 'lung',
  pendingSeries: null,
  setScan: (scan) => set({ scan, layers: [] }),
  setBusy: (busy) => set({ busy }),
  setPreset: (preset) => set({ preset }),
  setPendingSeries: (pendingSeries) => set({ pendingSeries }),
  notify: (level, text) => set((s) => ({ messages: [...s.messages.slice(-4), { id: nextMessageId++, level, text }] })),
  dismiss: (id) => set((s) => ({ messages: s.messages.filter((m) => m.id !== id) })),
}));
