import { Inject, Injectable } from '@nestjs/common';
import { classifyError } from '@batchgate/concurrency';
import { ItemFailure, type JobItemRun } from '@batchgate/platform/jobs';
import { SERVICE_CONFIG } from '@batchgate/platform/nest';
import type { RoleConfig } from '../config/role.config';
import { RoleMetrics } from '../role.metrics';
import { ChatCompletionsClient } from '../upstream/chat-completions.client';
import { NotificationWebhookClient } from '../upstream/notification-webhook.client';
import type { PersonaParams, PersonaResult } from './persona-jobs';
import { personaPrompt } from './persona-prompt';
import { PersonaSourcesRepository } from './persona-sources.repository';
import { RolesRepository, type PersonaRecord } from './roles.repository';

/** Error kinds a later run cannot cure: the item fails now instead of running again. */
const FINAL_KINDS = new Set(['permanent', 'auth', 'quota']);

/**
 * One run of a persona task (seed 001's create_role, durable): read the four sources at once,
 * ask the model, store the persona, notify. Each step is idempotent for a rerun after a crash:
 * a stored persona is not asked for again, and a recorded notification is not sent again (one
 * sent but not recorded is sent again with the same idempotency key, which the receiver
 * recognises as the same notification).
 */
@Injectable()
export class PersonaCreator {
  constructor(
    @Inject(PersonaSourcesRepository) private readonly sources: PersonaSourcesRepository,
    @Inject(RolesRepository) private readonly roles: RolesRepository,
    @Inject(ChatCompletionsClient) private readonly chat: ChatCompletionsClient,
    @Inject(NotificationWebhookClient) private readonly webhook: NotificationWebhookClient,
    @Inject(RoleMetrics) private readonly metrics: RoleMetrics,
    @Inject(SERVICE_CONFIG) private readonly config: RoleConfig,
  ) {}

  async run(run: JobItemRun<PersonaParams, PersonaParams>): Promise<PersonaResult> {
    // The first run of a task (attempt 1: no run of it started before) has nothing stored to find:
    // two reads fewer per task on the common path.
    const rerun = run.attempt > 1;
    const stored = rerun ? await this.roles.findByRequest(run.owner.tenant, run.jobId) : undefined;
    const role = stored ?? (await this.createPersona(run));
    await this.notifyOnce(role, run, rerun);
    return { roleId: role.id };
  }

  private async createPersona(run: JobItemRun<PersonaParams, PersonaParams>): Promise<PersonaRecord> {
    const { taskId, strategyId } = run.params;
    const sources = await this.sources.read(run.owner.tenant, taskId);
    const { baseInfo } = sources;
    if (!baseInfo) throw new ItemFailure(`ROLE.PROFILE_NOT_FOUND: task ${taskId} has no base_info for the tenant`);
    let completion;
    try {
      completion = await this.chat.complete('persona', personaPrompt({ ...sources, baseInfo }, strategyId), this.config.CHAT_MAX_TOKENS, {
        signal: run.signal,
        waitWhileDownMs: this.config.CHAT_OUTAGE_WAIT_MS,
        stopWaiting: run.stopping,
      });
    } catch (error) {
      if (FINAL_KINDS.has(classifyError(error, Date.now()).kind)) {
        throw new ItemFailure(`the chat-completions API refused the persona: ${(error as Error).message}`, { cause: error });
      }
      throw error;
    }
    return this.roles.store({
      tenant: run.owner.tenant,
      requestId: run.jobId,
      taskId,
      strategyId,
      name: baseInfo.name,
      persona: completion.content,
      model: completion.model,
      promptTokens: completion.promptTokens,
      completionTokens: completion.completionTokens,
    });
  }

  private async notifyOnce(role: PersonaRecord, run: JobItemRun<PersonaParams, PersonaParams>, rerun: boolean): Promise<void> {
    if (rerun && (await this.roles.notified(role.requestId))) {
      this.metrics.webhookDeliveries.inc({ outcome: 'skipped' });
      return;
    }
    let attempts: number;
    try {
      attempts = await this.webhook.notify(
        {
          event: 'role.persona.created',
          requestId: role.requestId,
          tenantId: role.tenant,
          taskId: role.taskId,
          strategyId: role.strategyId,
          roleId: role.id,
        },
        { signal: run.signal, waitWhileDownMs: this.config.WEBHOOK_OUTAGE_WAIT_MS, stopWaiting: run.stopping },
      );
    } catch (error) {
      this.metrics.webhookDeliveries.inc({ outcome: 'failed' });
      throw error;
    }
    await this.roles.recordNotified(role, attempts);
    this.metrics.webhookDeliveries.inc({ outcome: 'delivered' });
  }
}
