/**
 * What every kind's form shares besides the settings: the props it gets from the App, and
 * reading the timeline (active sequence, selected clips) with errors an editor understands.
 */
import type { ReactNode } from 'react';
import { BatchItemError, type Batch, type BatchJob } from '../batch.ts';
import type { Host, SequenceInfo, TrackItemInfo } from '../host/types.ts';
import { PlacementError } from '../placement.ts';
import type { CommonValues } from './CommonSettings.tsx';
import type { JobRunner } from './runner.ts';

export interface KindFormProps {
  host: Host;
  runner: JobRunner;
  common: CommonValues;
  models: string[];
  connected: boolean;
  /** Place single jobs by themselves when done (batches always do). */
  autoPlace: boolean;
  /** The shared settings block, shown under the kind's own fields. */
  settings: ReactNode;
}

export async function activeSequence(host: Host): Promise<SequenceInfo> {
  const seq = await host.activeSequence();
  if (!seq) throw new Error('no active sequence: open one in the timeline');
  return seq;
}

/** Selected clips with media, in time order; at least `min` of them. */
export async function selectedClips(host: Host, min = 1, what = 'select a clip on the timeline first'): Promise<TrackItemInfo[]> {
  const selected = (await host.selection()).filter((i) => i.mediaPath);
  if (selected.length < min) throw new Error(what);
  return selected;
}

/** Builds one job; builder errors (spec problems, impossible placements) become plain messages. */
export function build(make: () => BatchJob): BatchJob {
  try {
    return make();
  } catch (e) {
    if (e instanceof BatchItemError || e instanceof PlacementError || e instanceof RangeError) throw new Error(e.message);
    throw e;
  }
}

/** Runs a batch through the runner (auto-placed) and says what happened. */
export async function runBatch(runner: JobRunner, batch: Batch, seq: SequenceInfo, byValue: boolean): Promise<string> {
  if (batch.jobs.length === 0) {
    throw new Error(batch.errors.map((e) => `${e.where}: ${e.message}`).join('; ') || 'nothing to do');
  }
  const { submitted, failed } = await runner.runAll(batch.jobs, seq, { byValue, autoPlace: true });
  const problems = [...batch.errors.map((e) => `${e.where}: ${e.message}`), ...failed.map((f) => `${f.label}: ${f.message}`)];
  const head = `submitted ${submitted.length} job${submitted.length === 1 ? '' : 's'}; each is placed when it finishes`;
  if (problems.length && submitted.length === 0) throw new Error(problems.join('; '));
  return problems.length ? `${head}. Skipped: ${problems.join(' · ')}` : head;
}
