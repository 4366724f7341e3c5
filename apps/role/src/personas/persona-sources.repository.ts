import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** Seed 001's four sources of one tenant's task. */
export interface PersonaSources {
  baseInfo: { name: string; description: string } | undefined;
  talkStyle: string | undefined;
  knowledge: string[];
  products: Array<{ name: string; description: string }>;
}

/** Rows of a list source a prompt takes at most (the tables may hold more). */
const MAX_ROWS = 50;

@Injectable()
export class PersonaSourcesRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /**
   * Reads the four sources of the tenant's task at once: four queries in flight together, each on
   * its own pool connection (seed 001 ran them one after another).
   */
  async read(tenant: string, taskId: string): Promise<PersonaSources> {
    const key = [tenant, taskId];
    const [baseInfo, talkStyle, knowledge, products] = await Promise.all([
      this.dataSource.query('SELECT name, description FROM base_info WHERE tenant = ? AND task_id = ?', key) as Promise<
        Array<{ name: string; description: string }>
      >,
      this.dataSource.query('SELECT style FROM talk_style WHERE tenant = ? AND task_id = ?', key) as Promise<Array<{ style: string }>>,
      this.dataSource.query(`SELECT content FROM knowledge WHERE tenant = ? AND task_id = ? ORDER BY id LIMIT ${MAX_ROWS}`, key) as Promise<
        Array<{ content: string }>
      >,
      this.dataSource.query(`SELECT name, description FROM product WHERE tenant = ? AND task_id = ? ORDER BY id LIMIT ${MAX_ROWS}`, key) as Promise<
        Array<{ name: string; description: string }>
      >,
    ]);
    return {
      baseInfo: baseInfo[0],
      talkStyle: talkStyle[0]?.style,
      knowledge: knowledge.map((row) => row.content),
      products,
    };
  }
}
