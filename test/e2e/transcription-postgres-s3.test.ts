import { after } from 'node:test';
import { transcriptionCases } from './transcription.case.js';
import { distributedEarshot } from './transcription.harness.js';

const earshot = distributedEarshot('e2e');
after(() => earshot.stop());

transcriptionCases('PostgreSQL + S3', () => earshot.start());
