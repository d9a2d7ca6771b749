/**
 * The mini page engine: public entry points for tests, the CLI and the campaign layer.
 *
 *   runWorkload(config: RunConfig): RunResult
 *       one run on a fresh device; oracle + captured crash points + byte accounting
 *   verifyCrashState(dev: NvmeDevice, oracle: Oracle, crashSeq: number): VerifyResult
 *       recover a powered-on crash-image device and judge it (pure w.r.t. the oracle)
 *   recoverAndVerify(point: CrashPoint, choice: number[], oracle: Oracle, space?): VerifyResult
 *       build the image of one survivor choice, power on, verify
 *   verifySampled(points, oracle, perPoint, seed): SampledVerdict[]
 *   verifyCrashDuringRecovery(point, choice, oracle, opts): { first, second[] }
 *   MiniPageEngine.create(dev, opts) / MiniPageEngine.open(dev, opts)
 *   minipageAdapter: the campaign EngineAdapter (src/crash/adapter.ts)
 */
export { MiniPageEngine, Txn } from './engine';
export type { EngineOptions, CommitTicket, RecoveryInfo, EngineStats } from './engine';
export { runWorkload, deviceBlocksFor } from './driver';
export type { RunConfig, RunResult, Oracle, TxnRecord, CapturedPoint, ByteAccounting, EngineConfig, Phase } from './driver';
export { verifyCrashState, recoverAndVerify, verifySampled, verifyCrashDuringRecovery, checkTree, judgeContent, VERDICTS } from './verify';
export type { Verdict, VerifyResult, SampledVerdict } from './verify';
export { WORKLOAD_NAMES, createWorkload } from './workloads';
export type { WorkloadConfig, WorkloadName } from './workloads';
export { PROTECTION_MODES, computeLayout, requiredBlocks } from './layout';
export type { ProtectionMode, Layout } from './layout';
export { TornPageError, RecoveryError } from './errors';
export { minipageAdapter, minipageExpectation, deviceCoversPages } from './adapter';
