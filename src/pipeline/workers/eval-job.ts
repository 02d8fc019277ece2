/**
 * `getok eval` in a worker process: its own SAM session, and evalImage of eval-run.ts for each
 * image it is dealt, with that image's samples and annotations (the ground truth is built here).
 */
import type {EvalSample, EvalSettings} from '../../core/eval/plan.js'
import type {MaskPolicy} from '../../core/selection/policy.js'
import {SamEngine} from '../../sam/engine.js'
import {type EvalRunInput, evalImage} from '../eval/eval-run.js'
import type {LoadedJob, WorkerSam} from './protocol.js'

export interface EvalJobInit extends Pick<EvalRunInput, 'images' | 'annotations' | 'strict' | 'batch'> {
  settings: EvalSettings
  policy: MaskPolicy
  sam: WorkerSam
}

export async function createJob(init: EvalJobInit): Promise<LoadedJob> {
  const engine = await SamEngine.load(init.sam)
  const scorer = {engine, settings: init.settings, policy: init.policy, batch: init.batch}
  return {
    info: engine.identity,
    processImage: () => Promise.reject(new Error('eval: a worker scores whole units (processUnit)')),
    async processUnit({image, anns}, samples) {
      const unit = {id: image.id, image, samples: samples as {line: number; sample: EvalSample}[]}
      return evalImage(init, {annotationsByImage: new Map([[image.id, anns]])}, scorer, unit)
    },
    counters: () => ({encoderCalls: engine.encoderCalls}),
  }
}
