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
import type { LeftTool } from '../viewer/mpr-viewer';
import type { ModelInfo } from '../engine/worker/compute';

export interface ComputeInfo {
  backend: string;
  /** Why faster backends were skipped (e.g. a software WebGPU adapter). */
  notes: string[];
  softwareAdapter: boolean;
}

export interface Scan {
  /** Stable key for persistence: file name + dims + first voxels' checksum. */
  key: string;
  name: string;
  volume: Volume;
}

export interface LabelLayer {
  id: string;
  name: string;
  kind: 'observer' | 'model' | 'consensus' | 'agreement' | 'probability';
  color: [number, number, number];
  /** Colours of label values 1..N for multi-valued layers (the agreement heat map); else `color`. */
  palette?: [number, number, number][];
  visible: boolean;
  opacity: number;
  /** On the scan's grid; shared with the viewer's labelmap, so brush strokes land here directly. */
  data: Uint8Array;
  /** Bumped when `data` was changed outside the viewer, so the viewer redraws it. */
  revision?: number;
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
  activeLayerId: string | null;
  compute: ComputeInfo | null;
  model: ModelInfo | null;
  setCompute: (c: ComputeInfo | null) => void;
  setModel: (m: ModelInfo | null) => void;
  tool: LeftTool;
  brushRadiusMm: number;
  /** HU range of the threshold brush. */
  thresholdHU: [number, number];
  setScan: (scan: Scan, layers?: LabelLayer[]) => void;
  addLayer: (layer: LabelLayer) => void;
  updateLayer: (id: string, patch: Partial<Omit<LabelLayer, 'id'>>) => void;
  removeLayer: (id: string) => void;
  setActiveLayer: (id: string | null) => void;
  setTool: (tool: LeftTool) => void;
  setBrushRadius: (mm: number) => void;
  setThresholdHU: (range: [number, number]) => void;
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
  activeLayerId: null,
  compute: null,
  model: null,
  setCompute: (compute) => set({ compute }),
  setModel: (model) => set({ model }),
  tool: 'crosshairs',
  brushRadiusMm: 5,
  thresholdHU: [-800, 100],
  setScan: (scan, layers = []) => set({ scan, layers, activeLayerId: layers.find((l) => l.kind === 'observer')?.id ?? null }),
  addLayer: (layer) => set((s) => ({ layers: [...s.layers, layer], activeLayerId: layer.kind === 'observer' ? layer.id : s.activeLayerId })),
  updateLayer: (id, patch) => set((s) => ({ layers: s.layers.map((l) => (l.id === id ? { ...l, ...patch } : l)) })),
  removeLayer: (id) =>
    set((s) => ({ layers: s.layers.filter((l) => l.id !== id), activeLayerId: s.activeLayerId === id ? null : s.activeLayerId })),
  setActiveLayer: (activeLayerId) => set({ activeLayerId }),
  setTool: (tool) => set({ tool }),
  setBrushRadius: (brushRadiusMm) => set({ brushRadiusMm }),
  setThresholdHU: (thresholdHU) => set({ thresholdHU }),
  setBusy: (busy) => set({ busy }),
  setPreset: (preset) => set({ preset }),
  setPendingSeries: (pendingSeries) => set({ pendingSeries }),
  notify: (level, text) => set((s) => ({ messages: [...s.messages.slice(-4), { id: nextMessageId++, level, text }] })),
  dismiss: (id) => set((s) => ({ messages: s.messages.filter((m) => m.id !== id) })),
}));
