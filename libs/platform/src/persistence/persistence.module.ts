import { Inject, Injectable, Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Readiness } from '../health';
import { mysqlDataSourceOptions, openDataSource, type SchemaDefinition } from './data-source';
import type { MysqlConfig } from './mysql-config';

@Injectable()
class DatabaseReadiness implements OnModuleInit {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(Readiness) private readonly readiness: Readiness,
  ) {}

  onModuleInit(): void {
    this.readiness.add({ name: 'mysql', check: async () => void (await this.dataSource.query('SELECT 1')) });
  }
}

/**
 * The service's MySQL schema through TypeORM: database created if missing, migrations run at
 * start-up under a lock, readiness reports whether MySQL answers. The DataSource is closed by
 * @nestjs/typeorm on application shutdown.
 */
@Module({})
export class PersistenceModule {
  static forRoot(config: MysqlConfig, schema: SchemaDefinition): DynamicModule {
    return {
      module: PersistenceModule,
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: () => mysqlDataSourceOptions(config, schema),
          dataSourceFactory: () => openDataSource(config, schema),
        }),
      ],
      providers: [DatabaseReadiness],
      exports: [TypeOrmModule],
    };
  }
}
