import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '../../auth/auth.guard';
import { TASK_MONITOR_PAGE } from './task-monitor.page';

/**
 * The task monitor page (seed 003's panel). Public: the page holds no data; it signs in with the
 * token the user pastes, and every call it makes is an ordinary authenticated API call. Not part
 * of the API document (a page, not an operation).
 */
@ApiExcludeController()
@Public()
@Controller('publish')
export class TaskMonitorHttpController {
  @Get('monitor')
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-cache')
  page(): string {
    return TASK_MONITOR_PAGE;
  }
}
