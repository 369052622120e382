import type { MprViewer } from '../viewer/mpr-viewer';

/** The one live viewer, for panels that act on it (undo, current slice). */
let instance: MprViewer | null = null;
export const setViewer = (v: MprViewer | null) => {
  instance = v;
};
export const getViewer = () => instance;
