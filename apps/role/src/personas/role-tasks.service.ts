import { Inject, Injectable } from '@nestjs/common';
import type { Observable } from 'rxjs';
import type { JobChanged } from '@batchgate/contracts/common/v1/common';
import type { CreateRoleRequest, CreateRoleResponse, Role, RoleTask } from '@batchgate/contracts/role/v1/role';
import { callerTenant, callerUser } from '@batchgate/platform/errors';
import { JOB_STATUSES, watchJob, type JobItemSnapshot, type JobOwner, type JobSnapshot, type JobStatus } from '@batchgate/platform/jobs';
import type { PageWindow } from '@batchgate/platform/paging';
import { roleErrors } from '../role.errors';
import { RoleMetrics } from '../role.metrics';
import { PERSONA_JOB_STORE, personaDedupeKey, TENANT_TASKS_USER, type PersonaJobStore, type PersonaParams, type PersonaResult } from './persona-jobs';
import { RolesRepository } from './roles.repository';

/** task_id and strategy_id: ids of the caller's own systems, stored and used as a dedupe key. */
const EXTERNAL_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** What a task view needs of its single item. */
interface ItemView {
  attempts: number;
  errorMessage: string;
  roleId: string;
}

@Injectable()
export class RoleTasksService {
  constructor(
    @Inject(PERSONA_JOB_STORE) private readonly jobs: PersonaJobStore,
    @Inject(RolesRepository) private readonly roles: RolesRepository,
    @Inject(RoleMetrics) private readonly metrics: RoleMetrics,
  ) {}

  /** Stores and queues the task (or finds the open one of the same task and strategy) and answers. */
  async create(request: CreateRoleRequest): Promise<CreateRoleResponse> {
    const startedAt = performance.now();
    const observe = (outcome: string) => this.metrics.submitDuration.observe({ outcome }, (performance.now() - startedAt) / 1000);
    let job: JobSnapshot<PersonaParams>;
    try {
      const owner = tenantOwner(request.tenantId);
      const params = {
        taskId: externalId('task_id', request.taskId),
        strategyId: externalId('strategy_id', request.strategyId),
        submittedBy: callerUser(request.userId),
      };
      job = await this.jobs.submit(owner, { params, items: [{ payload: params }], dedupeKey: personaDedupeKey(params) });
    } catch (error) {
      observe('refused');
      throw error;
    }
    observe('accepted');
    // Queued: accepted (new, or the same open task not started yet); a deduplicated running task says so.
    return { success: true, requestId: job.id, status: job.status === 'queued' || job.status === 'pending' ? 'accepted' : job.status };
  }

  async get(ref: { requestId: string; tenant: string; userId: string }): Promise<RoleTask> {
    const owner = ownerOf(ref);
    const job = await this.jobs.get(owner, ref.requestId);
    return taskView(job, await this.itemOf(owner, job.id));
  }

  async list(query: { tenant: string; userId: string; status: string }, window: PageWindow): Promise<{ tasks: RoleTask[]; total: number }> {
    const owner = ownerOf(query);
    const status = query.status === '' ? undefined : (query.status as JobStatus);
    if (status !== undefined && !JOB_STATUSES.includes(status)) {
      throw roleErrors.invalidRoleArgument('status', `status must be one of ${JOB_STATUSES.join(', ')}`);
    }
    const { jobs, total } = await this.jobs.list(owner, { status, page: window.page, size: window.size });
    const items = await this.jobs.itemsOf(owner, jobs.map((job) => job.id));
    return { tasks: jobs.map((job) => taskView(job, itemView(items.get(job.id)?.[0]))), total };
  }

  async cancel(ref: { requestId: string; tenant: string; userId: string }): Promise<RoleTask> {
    const owner = ownerOf(ref);
    const job = await this.jobs.cancel(owner, ref.requestId, { running: 'abort' });
    return taskView(job, await this.itemOf(owner, job.id));
  }

  /** The task now, then after every committed change; completes once it has ended. */
  watch(ref: { requestId: string; tenant: string; userId: string }): Observable<RoleTask> {
    const owner = ownerOf(ref);
    return watchJob(this.jobs, owner, ref.requestId, async (job, change: JobChanged | undefined) => {
      const item = change?.items[0];
      // A change carries the item's state but not its result: the persona id is read once it exists.
      if (item && job.status !== 'success') return taskView(job, { attempts: item.attempts, errorMessage: item.errorMessage, roleId: '' });
      return taskView(job, await this.itemOf(owner, job.id));
    });
  }

  async getRole(request: { id: string; tenant: string }): Promise<Role> {
    const role = await this.roles.find(callerTenant(request.tenant), request.id);
    if (!role) throw roleErrors.roleNotFound(request.id);
    return {
      id: role.id,
      tenantId: role.tenant,
      taskId: role.taskId,
      strategyId: role.strategyId,
      requestId: role.requestId,
      name: role.name,
      persona: role.persona,
      model: role.model,
      promptTokens: role.promptTokens,
      completionTokens: role.completionTokens,
      createdAt: role.createdAt.toISOString(),
    };
  }

  private async itemOf(owner: JobOwner, jobId: string): Promise<ItemView | undefined> {
    const { items } = await this.jobs.items(owner, jobId, { page: 1, size: 1 });
    return itemView(items[0]);
  }
}

/** The caller's tenant's tasks (the caller's user id is checked, though the tasks are the tenant's). */
function ownerOf(ref: { tenant: string; userId: string }): JobOwner {
  callerUser(ref.userId);
  return tenantOwner(ref.tenant);
}

function tenantOwner(tenant: string): JobOwner {
  return { tenant: callerTenant(tenant), userId: TENANT_TASKS_USER };
}

function externalId(field: string, value: string): string {
  if (!EXTERNAL_ID.test(value)) throw roleErrors.invalidRoleArgument(field, `${field} must be 1-64 letters, digits, ".", "_", ":" or "-"`);
  return value;
}

function itemView(item: JobItemSnapshot<PersonaParams, PersonaResult> | undefined): ItemView | undefined {
  return item && { attempts: item.attempts, errorMessage: item.errorMessage ?? '', roleId: item.result?.roleId ?? '' };
}

function taskView(job: JobSnapshot<PersonaParams>, item: ItemView | undefined): RoleTask {
  return {
    requestId: job.id,
    tenantId: job.owner.tenant,
    taskId: job.params.taskId,
    strategyId: job.params.strategyId,
    submittedBy: job.params.submittedBy,
    status: job.status,
    roleId: item?.roleId ?? '',
    errorMessage: item?.errorMessage ?? '',
    attempts: item?.attempts ?? 0,
    createdAt: job.createdAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? '',
    finishedAt: job.finishedAt?.toISOString() ?? '',
  };
}
