/**
 * Which Premiere Pro version each host call needs. The `@adobe/premierepro` types carry no
 * versions; Adobe's reference (developer.adobe.com/premiere-pro/uxp/ppro-reference, source in
 * AdobeDocs/uxp-premiere-pro) gives a "Since" for every method. The table lists every method
 * PremiereHost calls, so the manifest's minVersion is the highest "since" of the calls the panel
 * cannot do without, and every newer call is gated with a fallback (test/plugin/host-versions.test.ts).
 */

/** "Class.method" → the first Premiere Pro version that has it (as documented). */
export const API_SINCE = {
  'Project.getActiveProject': '25.6',
  'Project.getActiveSequence': '25.6',
  'Project.getRootItem': '25.6',
  'Project.importFiles': '25.6',
  'Project.lockedAccess': '25.6',
  'Project.executeTransaction': '25.6',
  'Sequence.getSettings': '25.6',
  'Sequence.getFrameSize': '25.6',
  'Sequence.getEndTime': '25.6',
  'Sequence.getSelection': '25.6',
  'Sequence.getVideoTrackCount': '25.6',
  'Sequence.getVideoTrack': '25.6',
  'Sequence.getPlayerPosition': '25.6',
  'Sequence.getTimebase': '25.6',
  'SequenceSettings.getVideoPixelAspectRatio': '25.6',
  /** Exact ticks per frame; older versions read Sequence.getTimebase() (same number, as a string). */
  'SequenceSettings.getVideoFrameRate': '26.2',
  'TrackItemSelection.getTrackItems': '25.6',
  'VideoTrack.getTrackItems': '25.6',
  'VideoClipTrackItem.getName': '25.6',
  'VideoClipTrackItem.getTrackIndex': '25.6',
  'VideoClipTrackItem.getStartTime': '25.6',
  'VideoClipTrackItem.getEndTime': '25.6',
  'VideoClipTrackItem.getInPoint': '25.6',
  'VideoClipTrackItem.getProjectItem': '25.6',
  'VideoClipTrackItem.isAdjustmentLayer': '25.6',
  'VideoClipTrackItem.getIsSelected': '25.6',
  'ProjectItem.getId': '25.6',
  'ProjectItem.cast': '25.6',
  'FolderItem.getItems': '25.6',
  'FolderItem.createBinAction': '25.6',
  'FolderItem.cast': '25.6',
  'ClipProjectItem.getMediaFilePath': '25.6',
  'ClipProjectItem.cast': '25.6',
  'Markers.getMarkers': '25.6',
  'Markers.createAddMarkerAction': '25.6',
  'Marker.getName': '25.6',
  'Marker.getComments': '25.6',
  'Marker.getStart': '25.6',
  'Marker.getDuration': '25.6',
  'Metadata.addPropertyToProjectMetadataSchema': '25.6',
  'Metadata.getProjectMetadata': '25.6',
  'Metadata.createSetProjectMetadataAction': '25.6',
  'SequenceEditor.getEditor': '25.6',
  'SequenceEditor.createOverwriteItemAction': '25.6',
  'Exporter.exportSequenceFrame': '25.6',
  'TickTime.createWithTicks': '25.6',
  'TickTime.equals': '25.6',
} as const;

export type HostApi = keyof typeof API_SINCE;

/** Calls used only behind a version check, each with the older way it falls back to. */
export const GATED: Partial<Record<HostApi, string>> = {
  'SequenceSettings.getVideoFrameRate': 'Sequence.getTimebase',
};

/** The lowest Premiere Pro version the panel supports: every ungated call exists there. */
export const MIN_PREMIERE_VERSION = (Object.entries(API_SINCE) as [HostApi, string][])
  .filter(([api]) => !(api in GATED))
  .map(([, v]) => v)
  .reduce((a, b) => (compareVersions(a, b) >= 0 ? a : b));

/** "25.6.0", "26.2", "26.3.1 (build 12)" → [25, 6, 0]; null when it has no leading number. */
export function parseVersion(text: string | undefined | null): number[] | null {
  const m = /^\s*(\d+(?:\.\d+)*)/.exec(text ?? '');
  return m ? m[1]!.split('.').map(Number) : null;
}

/** <0, 0, >0 as a is older, the same as, newer than b (missing parts count as 0). */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a) ?? [0];
  const y = parseVersion(b) ?? [0];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

/**
 * Whether the running Premiere has `api`. An unknown version (a host that does not say) counts
 * as the oldest supported one, so the fallback runs: it works everywhere.
 */
export function hostHas(api: HostApi, hostVersion: string | undefined | null): boolean {
  const v = parseVersion(hostVersion) ? hostVersion! : MIN_PREMIERE_VERSION;
  return compareVersions(v, API_SINCE[api]) >= 0;
}

/** The editor's sentence when the running Premiere is older than the panel needs. */
export function tooOldMessage(hostVersion: string | undefined | null): string | null {
  if (!parseVersion(hostVersion)) return null;
  return compareVersions(hostVersion!, MIN_PREMIERE_VERSION) < 0
    ? `Reshoot needs Premiere Pro ${MIN_PREMIERE_VERSION} or newer; this is ${hostVersion}. Update Premiere Pro from the Creative Cloud app.`
    : null;
}
