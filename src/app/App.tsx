import { useEffect, useState } from 'react';
import { openFiles, openSample } from './actions';
import { startCompute } from './inference';
import { filesFromDrop } from './drop';
import { readFiles } from './engine-client';
import { getViewer } from './viewer-instance';
import { AnnotationTools } from './components/AnnotationTools';
import { BusyBar } from './components/BusyBar';
import { LampPanel } from './components/LampPanel';
import { LayersPanel } from './components/LayersPanel';
import { FineTunePanel } from './components/FineTunePanel';
import { InferencePanel } from './components/InferencePanel';
import { ObserversPanel } from './components/ObserversPanel';
import { PipelinePanel } from './components/PipelinePanel';
import { Messages } from './components/Messages';
import { ScanInfo } from './components/ScanInfo';
import { SeriesPicker } from './components/SeriesPicker';
import { Toolbar } from './components/Toolbar';
import { ViewerPanel } from './components/ViewerPanel';

let sampleRequested = false;

export function App() {
  const [dragging, setDragging] = useState(false);

  useEffect(() => {
    // The embedded sample opens at start, once (StrictMode runs effects twice in development).
    if (sampleRequested) return;
    sampleRequested = true;
    void startCompute();
    if (!new URLSearchParams(location.search).has('nosample')) void openSample();
  }, []);

  return (
    <div
      className="app"
      onDragOver={(e) => {
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={(e) => {
        if (e.currentTarget === e.target) setDragging(false);
      }}
      onDrop={async (e) => {
        e.preventDefault();
        setDragging(false);
        const files = await filesFromDrop(e.dataTransfer);
        if (files.length) await openFiles(await readFiles(files));
      }}
    >
      <Toolbar />
      <BusyBar />
      <main className="workspace">
        <ViewerPanel />
        <aside className="sidebar">
          <ScanInfo />
          <AnnotationTools onUndo={() => getViewer()?.undo()} onRedo={() => getViewer()?.redo()} currentSlice={() => getViewer()?.currentAxialSlice() ?? 0} />
          <LayersPanel />
          <InferencePanel />
          <PipelinePanel />
          <FineTunePanel />
          <ObserversPanel />
          <LampPanel />
        </aside>
      </main>
      <Messages />
      <SeriesPicker />
      {dragging && <div className="drop-overlay">Drop a CT scan: DICOM folder or files, NIfTI, NRRD</div>}
    </div>
  );
}
