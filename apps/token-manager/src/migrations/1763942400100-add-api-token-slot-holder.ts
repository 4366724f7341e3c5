import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Who booked a token's latest call slots: the next holder's slots start after a gap. */
export class AddApiTokenSlotHolder1763942400100 implements MigrationInterface {
  name = 'AddApiTokenSlotHolder1763942400100';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE api_token ADD COLUMN slot_holder VARCHAR(64) NULL AFTER next_call_at');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE api_token DROP COLUMN slot_holder');
  }
}
