/**
 * Three linked MPR viewports (axial, sagittal, coronal) of an engine `Volume`, with label layers as
 * Cornerstone3D labelmap segmentations. All Cornerstone3D calls of the app live in this folder.
 * The order of calls follows shared/notes/cornerstone3d.md (known to work on SwiftShader).
 */
import {
  Enums,
  RenderingEngine,
  cache,
  eventTarget,
  init as coreInit,
  setVolumesForViewports,
  utilities,
  volumeLoader,
  type Types,
} from '@cornerstonejs/core';
import {
  BrushTool,
  CrosshairsTool,
  Enums as ToolEnums,
  OrientationMarkerTool,
  PanTool,
  ScaleOverlayTool,
  StackScrollTool,
  ToolGroupManager,
  WindowLevelTool,
  ZoomTool,
  addTool,
  init as toolsInit,
  segmentation,
  utilities as toolUtilities,
} from '@cornerstonejs/tools';
import { voxelIndex, voxelOfWorld, worldLPS, type Volume } from '../engine/volume';
import { CT_PRESETS, voiRange, type PresetName } from './presets';
import { toCornerstoneScalars } from './scalars';

export type ViewName = 'axial' | 'sagittal' | 'coronal';
export const VIEWS: ViewName[] = ['axial', 'sagittal', 'coronal'];
const ORIENTATION: Record<ViewName, Enums.OrientationAxis> = {
  axial: Enums.OrientationAxis.AXIAL,
  sagittal: Enums.OrientationAxis.SAGITTAL,
  coronal: Enums.OrientationAxis.CORONAL,
};

export type LeftTool = 'crosshairs' | 'windowLevel' | 'brush' | 'eraser' | 'thresholdBrush';

export interface Probe {
  ijk: [number, number, number];
  world: [number, number, number];
  value: number;
}

const segmentationUtils = toolUtilities.segmentation;

let initialised: Promise<void> | null = null;
/** Cornerstone's init is global and must run once (React StrictMode mounts effects twice). */
function initCornerstone(): Promise<void> {
  initialised ??= (async () => {
    await coreInit();
    toolsInit();
    for (const tool of [CrosshairsTool, WindowLevelTool, PanTool, ZoomTool, StackScrollTool, BrushTool, ScaleOverlayTool, OrientationMarkerTool]) {
      addTool(tool);
    }
  })();
  return initialised;
}

let instanceCount = 0;

export class MprViewer {
  private readonly id = ++instanceCount;
  private engine: RenderingEngine | null = null;
  private volumeId: string | null = null;
  private volume: Volume | null = null;
  private readonly toolGroupId = `mpr-tools-${this.id}`;
  private readonly layerIds = new Set<string>();
  private readonly layerBuffers = new Map<string, Uint8Array>();
  private generation = 0;

  constructor(private readonly elements: Record<ViewName, HTMLDivElement>) {}

  private viewportId(view: ViewName): string {
    return `${view}-${this.id}`;
  }

  /** Shows `volume` in all three viewports, replacing any previous scan and its layers. */
  async setVolume(volume: Volume, preset: PresetName = 'lung'): Promise<void> {
    await initCornerstone();
    const gen = ++this.generation;
    this.clearLayers();
    if (this.volumeId) cache.removeVolumeLoadObject(this.volumeId);
    const volumeId = `scan-${this.id}-${gen}`;
    const scalarData = toCornerstoneScalars(volume.data);
    volumeLoader.createLocalVolume(volumeId, {
      scalarData,
      dimensions: volume.dims,
      spacing: volume.spacing,
      origin: volume.origin,
      direction: volume.direction as unknown as Types.Mat3,
      metadata: { Modality: volume.units === 'HU' ? 'CT' : 'OT', PhotometricInterpretation: 'MONOCHROME2' } as unknown as Types.Metadata,
    });
    registerSlicePositions(volumeId, volume);
    performance.mark('view:volume-created');
    if (gen !== this.generation) return;
    this.volumeId = volumeId;
    this.volume = volume;

    const engine = this.ensureEngine();
    await setVolumesForViewports(engine, [{ volumeId }], VIEWS.map((v) => this.viewportId(v)));
    performance.mark('view:volume-set');
    this.setPreset(volume.units === 'HU' ? preset : null);
    for (const view of VIEWS) engine.getViewport(this.viewportId(view)).resetCamera();
    engine.render();
  }

  private ensureEngine(): RenderingEngine {
    if (this.engine) return this.engine;
    const engine = new RenderingEngine(`engine-${this.id}`);
    engine.setViewports(
      VIEWS.map((view) => ({
        viewportId: this.viewportId(view),
        type: Enums.ViewportType.ORTHOGRAPHIC,
        element: this.elements[view],
        defaultOptions: { orientation: ORIENTATION[view], background: [0, 0, 0] as Types.Point3 },
      })),
    );
    const group = ToolGroupManager.createToolGroup(this.toolGroupId)!;
    group.addTool(CrosshairsTool.toolName);
    group.addTool(WindowLevelTool.toolName);
    group.addTool(PanTool.toolName);
    group.addTool(ZoomTool.toolName);
    group.addTool(StackScrollTool.toolName);
    group.addTool(ScaleOverlayTool.toolName);
    group.addTool(OrientationMarkerTool.toolName, { overlayMarkerType: OrientationMarkerTool.OVERLAY_MARKER_TYPES.ANNOTATED_CUBE });
    group.addToolInstance('CircularBrush', BrushTool.toolName, { activeStrategy: 'FILL_INSIDE_CIRCLE' });
    group.addToolInstance('CircularEraser', BrushTool.toolName, { activeStrategy: 'ERASE_INSIDE_CIRCLE' });
    group.addToolInstance('ThresholdBrush', BrushTool.toolName, { activeStrategy: 'THRESHOLD_INSIDE_CIRCLE' });
    for (const view of VIEWS) group.addViewport(this.viewportId(view), engine.id);
    group.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Auxiliary }] });
    group.setToolActive(ZoomTool.toolName, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Secondary }] });
    group.setToolActive(StackScrollTool.toolName, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Wheel }] });
    group.setToolEnabled(ScaleOverlayTool.toolName);
    group.setToolEnabled(OrientationMarkerTool.toolName);
    this.engine = engine;
    this.setLeftTool('crosshairs');
    return engine;
  }

  setLeftTool(tool: LeftTool): void {
    const group = ToolGroupManager.getToolGroup(this.toolGroupId);
    if (!group) return;
    const names: Record<LeftTool, string> = {
      crosshairs: CrosshairsTool.toolName,
      windowLevel: WindowLevelTool.toolName,
      brush: 'CircularBrush',
      eraser: 'CircularEraser',
      thresholdBrush: 'ThresholdBrush',
    };
    for (const name of Object.values(names)) {
      if (group.getToolOptions(name)) group.setToolPassive(name);
    }
    group.setToolActive(names[tool], { bindings: [{ mouseButton: ToolEnums.MouseBindings.Primary }] });
  }

  /** Applies a CT window preset to every viewport; `null` uses the data's full range. */
  setPreset(preset: PresetName | null): void {
    if (!this.engine || !this.volume) return;
    let range: { lower: number; upper: number };
    if (preset) {
      range = voiRange(CT_PRESETS[preset].width, CT_PRESETS[preset].level);
    } else {
      let lower = Infinity;
      let upper = -Infinity;
      for (const v of this.volume.data) {
        if (v < lower) lower = v;
        if (v > upper) upper = v;
      }
      range = { lower, upper: upper > lower ? upper : lower + 1 };
    }
    for (const view of VIEWS) {
      const vp = this.engine.getViewport(this.viewportId(view)) as Types.IVolumeViewport;
      vp.setProperties({ voiRange: range });
    }
    this.engine.render();
  }

  /** Adds or replaces a label layer shown on all viewports with one colour. */
  async setLayer(layer: {
    id: string;
    data: Uint8Array;
    color: [number, number, number];
    palette?: [number, number, number][];
    visible: boolean;
    opacity: number;
  }): Promise<void> {
    if (!this.volume || !this.volumeId || !this.engine) return;
    const segId = `${layer.id}-${this.generation}`;
    // The labelmap's slices are views of `layer.data` (brush strokes land there); another array
    // means another labelmap.
    if (this.layerIds.has(segId) && this.layerBuffers.get(segId) !== layer.data) this.removeLayer(layer.id);
    if (this.layerIds.has(segId)) {
      segmentation.triggerSegmentationEvents.triggerSegmentationDataModified(segId);
    } else {
      volumeLoader.createLocalLabelmapVolume(
        {
          scalarData: layer.data,
          dimensions: this.volume.dims,
          spacing: this.volume.spacing,
          origin: this.volume.origin,
          direction: this.volume.direction as unknown as Types.Mat3,
          referencedVolumeId: this.volumeId,
          metadata: {} as Types.Metadata,
        },
        segId,
      );
      segmentation.addSegmentations([
        { segmentationId: segId, representation: { type: ToolEnums.SegmentationRepresentations.Labelmap, data: { volumeId: segId } } },
      ]);
      const map: Record<string, { segmentationId: string }[]> = {};
      for (const view of VIEWS) map[this.viewportId(view)] = [{ segmentationId: segId }];
      await segmentation.addLabelmapRepresentationToViewportMap(map);
      this.layerIds.add(segId);
      this.layerBuffers.set(segId, layer.data);
    }
    for (const view of VIEWS) {
      const viewportId = this.viewportId(view);
      const colours = layer.palette ?? [layer.color];
      colours.forEach((c, n) => segmentation.config.color.setSegmentIndexColor(viewportId, segId, n + 1, [...c, 255]));
      segmentation.config.visibility.setSegmentationRepresentationVisibility(
        viewportId,
        { segmentationId: segId, type: ToolEnums.SegmentationRepresentations.Labelmap },
        layer.visible,
      );
      segmentation.config.style.setStyle(
        { viewportId, segmentationId: segId, type: ToolEnums.SegmentationRepresentations.Labelmap },
        { fillAlpha: layer.opacity, outlineOpacity: Math.min(1, layer.opacity + 0.3) },
      );
    }
    this.engine.render();
  }

  /** Ids of the layers currently shown. */
  shownLayerIds(): string[] {
    const suffix = `-${this.generation}`;
    return [...this.layerIds].filter((s) => s.endsWith(suffix)).map((s) => s.slice(0, -suffix.length));
  }

  removeLayer(id: string): void {
    const segId = `${id}-${this.generation}`;
    if (!this.layerIds.delete(segId)) return;
    this.layerBuffers.delete(segId);
    segmentation.removeSegmentation(segId);
    cache.removeVolumeLoadObject(segId);
    this.engine?.render();
  }

  /** Makes `id` the layer the brush and eraser paint into. */
  setActiveLayer(id: string, brushRadiusMm: number): void {
    const segId = `${id}-${this.generation}`;
    if (!this.layerIds.has(segId)) return;
    for (const view of VIEWS) segmentation.activeSegmentation.setActiveSegmentation(this.viewportId(view), segId);
    segmentation.segmentIndex.setActiveSegmentIndex(segId, 1);
    this.setBrushRadius(brushRadiusMm);
  }

  setBrushRadius(mm: number): void {
    // Cornerstone's brush size is a radius in world units (mm).
    const group = ToolGroupManager.getToolGroup(this.toolGroupId);
    if (!group) return;
    for (const name of ['CircularBrush', 'CircularEraser', 'ThresholdBrush']) group.setToolConfiguration(name, { brushSize: mm });
  }

  /** The threshold brush paints only voxels whose value lies in [lower, upper] (HU for CT). */
  setThresholdRange(lower: number, upper: number): void {
    segmentationUtils.setBrushThresholdForToolGroup(this.toolGroupId, { range: [lower, upper], isDynamic: false, dynamicRadius: 0 });
  }

  undo(): void {
    utilities.HistoryMemo.DefaultHistoryMemo.undo();
    this.engine?.render();
  }

  redo(): void {
    utilities.HistoryMemo.DefaultHistoryMemo.redo();
    this.engine?.render();
  }

  /** Index k of the axial slice on screen. */
  currentAxialSlice(): number {
    if (!this.engine || !this.volume) return 0;
    const vp = this.engine.getViewport(this.viewportId('axial'));
    const k = Math.round(voxelOfWorld(this.volume, vp.getCamera().focalPoint as [number, number, number])[2]);
    return Math.min(Math.max(k, 0), this.volume.dims[2] - 1);
  }

  /** The voxel and its value under a canvas point of a viewport, or null outside the volume. */
  probe(view: ViewName, canvasX: number, canvasY: number): Probe | null {
    if (!this.engine || !this.volume) return null;
    const vp = this.engine.getViewport(this.viewportId(view));
    const world = vp.canvasToWorld([canvasX, canvasY]) as [number, number, number];
    const ijk = voxelOfWorld(this.volume, world).map(Math.round) as [number, number, number];
    if (ijk.some((x, n) => x < 0 || x >= this.volume!.dims[n])) return null;
    return { ijk, world, value: this.volume.data[voxelIndex(this.volume.dims, ...ijk)] };
  }

  /** Moves every viewport to the slice through voxel `ijk` (used by "jump to slice"). */
  jumpTo(ijk: [number, number, number]): void {
    if (!this.engine || !this.volume) return;
    const world = worldLPS(this.volume, ...ijk);
    for (const view of VIEWS) {
      const vp = this.engine.getViewport(this.viewportId(view)) as Types.IVolumeViewport;
      const cam = vp.getCamera();
      const n = cam.viewPlaneNormal!;
      const fp = cam.focalPoint!;
      const d = (world[0] - fp[0]) * n[0] + (world[1] - fp[1]) * n[1] + (world[2] - fp[2]) * n[2];
      const shift = [n[0] * d, n[1] * d, n[2] * d];
      vp.setCamera({
        focalPoint: [fp[0] + shift[0], fp[1] + shift[1], fp[2] + shift[2]],
        position: [cam.position![0] + shift[0], cam.position![1] + shift[1], cam.position![2] + shift[2]],
      });
    }
    this.engine.render();
  }

  /** Scrolls one viewport by `delta` slices; resolves when the new slice has been drawn. */
  scroll(view: ViewName, delta: number): Promise<void> {
    const element = this.elements[view];
    return new Promise((resolve) => {
      element.addEventListener(Enums.Events.IMAGE_RENDERED, () => resolve(), { once: true });
      (this.engine?.getViewport(this.viewportId(view)) as Types.IVolumeViewport | undefined)?.scroll(delta);
    });
  }

  /** Resolves once every viewport has drawn a frame (tests and benchmarks wait on it). */
  whenRendered(): Promise<void> {
    return new Promise((resolve) => {
      const pending = new Set(VIEWS.map((v) => this.elements[v]));
      const onRendered = (evt: Event) => {
        pending.delete(evt.target as HTMLDivElement);
        if (pending.size === 0) {
          for (const v of VIEWS) this.elements[v].removeEventListener(Enums.Events.IMAGE_RENDERED, onRendered);
          resolve();
        }
      };
      for (const v of VIEWS) this.elements[v].addEventListener(Enums.Events.IMAGE_RENDERED, onRendered);
      this.engine?.render();
    });
  }

  private clearLayers(): void {
    for (const segId of this.layerIds) {
      segmentation.removeSegmentation(segId);
      cache.removeVolumeLoadObject(segId);
    }
    this.layerIds.clear();
    this.layerBuffers.clear();
  }

  destroy(): void {
    this.clearLayers();
    ToolGroupManager.destroyToolGroup(this.toolGroupId);
    this.engine?.destroy();
    this.engine = null;
    if (this.volumeId) cache.removeVolumeLoadObject(this.volumeId);
    this.volumeId = null;
  }
}

/**
 * `createLocalVolume` gives every slice the volume origin as its position, which breaks the
 * tools that map a view back to a slice; register each slice's true position.
 */
function registerSlicePositions(volumeId: string, volume: Volume): void {
  const [nx, ny, nz] = volume.dims;
  const d = volume.direction;
  for (let k = 0; k < nz; k++) {
    utilities.genericMetadataProvider.add(`${volumeId}_slice_${k}`, {
      type: 'imagePlaneModule',
      metadata: {
        rows: ny,
        columns: nx,
        imageOrientationPatient: [d[0], d[1], d[2], d[3], d[4], d[5]],
        rowCosines: [d[0], d[1], d[2]],
        columnCosines: [d[3], d[4], d[5]],
        imagePositionPatient: worldLPS(volume, 0, 0, k),
        pixelSpacing: [volume.spacing[1], volume.spacing[0]],
        rowPixelSpacing: volume.spacing[1],
        columnPixelSpacing: volume.spacing[0],
        sliceThickness: volume.spacing[2],
      },
    });
  }
}

export { eventTarget };
