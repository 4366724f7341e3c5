import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

export interface StoredRole {
  id: string;
  tenant: string;
  requestId: string;
  taskId: string;
  strategyId: string;
  name: string;
  persona: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  createdAt: Date;
}

/** A persona as a task's run knows it (the stored row without its creation time). */
export type PersonaRecord = Omit<StoredRole, 'createdAt'>;

interface RoleRow {
  id: string;
  tenant: string;
  request_id: string;
  task_id: string;
  strategy_id: string;
  name: string;
  persona: string;
  model: string;
  prompt_tokens: number;
  completion_tokens: number;
  created_at: Date;
}

const ROLE_COLUMNS = 'id, tenant, request_id, task_id, strategy_id, name, persona, model, prompt_tokens, completion_tokens, created_at';

/** The personas (`role`) and their notification records (`role_notification`), always under the tenant. */
@Injectable()
export class RolesRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async find(tenant: string, id: string): Promise<StoredRole | undefined> {
    const [row] = (await this.dataSource.query(`SELECT ${ROLE_COLUMNS} FROM role WHERE id = ? AND tenant = ?`, [id, tenant])) as RoleRow[];
    return row && toRole(row);
  }

  /** The persona a task made, if it got that far (a rerun after a crash finds it). */
  async findByRequest(tenant: string, requestId: string): Promise<StoredRole | undefined> {
    const [row] = (await this.dataSource.query(`SELECT ${ROLE_COLUMNS} FROM role WHERE request_id = ? AND tenant = ?`, [
      requestId,
      tenant,
    ])) as RoleRow[];
    return row && toRole(row);
  }

  /**
   * Stores the task's persona once: a second run of the same task (the first one's replica died
   * after storing it) keeps the first persona and gets it back. The common case (nothing stored
   * yet) answers the row it inserted without reading it back.
   */
  async store(role: Omit<StoredRole, 'id' | 'createdAt'>): Promise<PersonaRecord> {
    const id = randomUUID();
    const inserted = (await this.dataSource.query(
      `INSERT IGNORE INTO role (id, tenant, request_id, task_id, strategy_id, name, persona, model, prompt_tokens, completion_tokens)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [id, role.tenant, role.requestId, role.taskId, role.strategyId, role.name, role.persona, role.model, role.promptTokens, role.completionTokens],
    )) as { affectedRows: number };
    if (inserted.affectedRows === 1) return { id, ...role };
    const stored = await this.findByRequest(role.tenant, role.requestId);
    if (!stored) throw new Error(`persona of task ${role.requestId} was not stored`);
    return stored;
  }

  async notified(requestId: string): Promise<boolean> {
    const rows = (await this.dataSource.query('SELECT 1 FROM role_notification WHERE request_id = ?', [requestId])) as unknown[];
    return rows.length > 0;
  }

  async recordNotified(role: PersonaRecord, attempts: number): Promise<void> {
    await this.dataSource.query('INSERT IGNORE INTO role_notification (request_id, tenant, role_id, attempts) VALUES (?, ?, ?, ?)', [
      role.requestId,
      role.tenant,
      role.id,
      attempts,
    ]);
  }
}

function toRole(row: RoleRow): StoredRole {
  return {
    id: row.id,
    tenant: row.tenant,
    requestId: row.request_id,
    taskId: row.task_id,
    strategyId: row.strategy_id,
    name: row.name,
    persona: row.persona,
    model: row.model,
    promptTokens: Number(row.prompt_tokens),
    completionTokens: Number(row.completion_tokens),
    createdAt: row.created_at,
  };
}
