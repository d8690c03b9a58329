import { after } from 'node:test';
import { boundaryEnv, boundaryFlags, tenantBoundaryCases } from './tenant-boundaries.case.js';
import { distributedEarshot } from './transcription.harness.js';

const earshot = distributedEarshot('tenants', boundaryFlags, boundaryEnv);
after(() => earshot.stop());

tenantBoundaryCases('PostgreSQL + S3', () => earshot.start());
