/**
 * Tissue classes of the phantom's label map and their nominal CT numbers (HU).
 * The values follow typical non-contrast chest CT: fat −100, muscle and soft tissue 40, blood 45,
 * aerated lung about −850, bone cortex 700–1000 and cancellous bone about 250.
 */
export const TISSUE = {
  AIR: 0,
  FAT: 1,
  MUSCLE: 2,
  SOFT: 3,
  LIVER: 4,
  CORTICAL_BONE: 5,
  CANCELLOUS_BONE: 6,
  CARTILAGE: 7,
  BLOOD: 8,
  MYOCARDIUM: 9,
  CSF: 10,
  LUNG: 11,
  VESSEL: 12,
  AIRWAY: 13,
  AIRWAY_WALL: 14,
  GGO: 15,
  CONSOLIDATION: 16,
} as const;

export type Tissue = (typeof TISSUE)[keyof typeof TISSUE];

/** Names by class id, for legends and dataset.json. */
export const TISSUE_NAMES: string[] = Object.entries(TISSUE)
  .sort((a, b) => a[1] - b[1])
  .map(([name]) => name.toLowerCase());

/** Mean HU per class for one case (bone and lung values vary between cases). Lesion classes get theirs per lesion. */
export function tissueHU(p: { corticalHU: number; cancellousHU: number; bloodHU: number; lungHU: number }): Float32Array {
  const hu = new Float32Array(TISSUE_NAMES.length);
  hu[TISSUE.AIR] = -1000;
  hu[TISSUE.FAT] = -100;
  hu[TISSUE.MUSCLE] = 40;
  hu[TISSUE.SOFT] = 40;
  hu[TISSUE.LIVER] = 55;
  hu[TISSUE.CORTICAL_BONE] = p.corticalHU;
  hu[TISSUE.CANCELLOUS_BONE] = p.cancellousHU;
  hu[TISSUE.CARTILAGE] = 90;
  hu[TISSUE.BLOOD] = p.bloodHU;
  hu[TISSUE.MYOCARDIUM] = 40;
  hu[TISSUE.CSF] = 15;
  hu[TISSUE.LUNG] = p.lungHU;
  hu[TISSUE.VESSEL] = p.bloodHU;
  hu[TISSUE.AIRWAY] = -1000;
  hu[TISSUE.AIRWAY_WALL] = 40;
  hu[TISSUE.GGO] = -550;
  hu[TISSUE.CONSOLIDATION] = -10;
  return hu;
}
