import { defineJobKind, type JobStore } from '@batchgate/platform/jobs';

/** What a persona task is asked to do (the job's params; the tenant is the job's owner). */
export interface PersonaParams {
  taskId: string;
  strategyId: string;
  /** The user who submitted it (the JWT's `sub`), for the record: the task is the tenant's. */
  submittedBy: string;
}

/** What a finished persona task made: the stored persona. */
export interface PersonaResult {
  roleId: string;
}

/**
 * Persona creation (seed 001) as a job of one item: stored and queued before the answer, run by
 * any replica from the work queue. The request id the caller gets is the job id.
 */
export const PERSONA_JOBS = defineJobKind<PersonaParams, PersonaParams, PersonaResult>({
  service: 'role',
  name: 'persona',
  errorPrefix: 'ROLE',
  label: 'Persona task',
});

export type PersonaJobStore = JobStore<PersonaParams, PersonaParams, PersonaResult>;

/** Injection token of the persona job store. */
export const PERSONA_JOB_STORE = Symbol('PERSONA_JOB_STORE');

/**
 * Persona tasks are their tenant's, as in seed 001 (which knows tenants, not users): every user of
 * the tenant reads, lists and cancels the same tasks, and a repeated submission finds the open
 * one whoever sent it. The kit's owner is the tenant with this user id, which no caller can be
 * (`*` is not among the characters the gateway allows in a JWT `sub`).
 */
export const TENANT_TASKS_USER = '*';

/** One open task per (tenant, task_id, strategy_id): the kit's dedupe key within the tenant. */
export function personaDedupeKey(params: Pick<PersonaParams, 'taskId' | 'strategyId'>): string {
  return `${params.taskId}/${params.strategyId}`;
}
