/** CT window presets (width / level in HU), as radiologists name them. */
export const CT_PRESETS = {
  lung: { width: 1500, level: -600 },
  mediastinum: { width: 400, level: 40 },
  bone: { width: 1800, level: 400 },
} as const;

export type PresetName = keyof typeof CT_PRESETS;

export function voiRange(width: number, level: number): { lower: number; upper: number } {
  return { lower: level - width / 2, upper: level + width / 2 };
}
