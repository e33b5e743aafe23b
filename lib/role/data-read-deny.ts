/**
 * Data-plane reads that a diagram never needs. `ReadOnlyAccess` grants most of them (it allows `Get*`, `List*`,
 * `Query`, `Scan`, `Receive*`, ...); with `denyDataReads` they are denied explicitly, so the Cloudcraft role can
 * draw the account but cannot read what is stored in it. Each entry says why. The list never names an action of
 * Cloudcraft's minimal policy (a test checks this with an IAM policy engine): Cloudcraft keeps everything it
 * draws with.
 *
 * Not denied, because Cloudcraft's minimal policy needs them: `lambda:GetFunction` (it also returns environment
 * variables and a code download link), `s3:ListBucket` (object keys) and `cassandra:Select` (Keyspaces metadata is
 * read through system tables).
 */
export interface DeniedRead {
  readonly action: string;
  readonly reason: string;
}

export const DENIED_DATA_READS: DeniedRead[] = [
  // Object and archive contents
  { action: 's3:GetObject', reason: 'object contents' },
  { action: 's3:GetObjectVersion', reason: 'contents of earlier object versions' },
  { action: 's3:GetObjectTorrent', reason: 'object contents, as a torrent' },
  { action: 's3:GetObjectVersionTorrent', reason: 'earlier object versions, as a torrent' },
  { action: 's3-object-lambda:GetObject', reason: 'object contents through S3 Object Lambda' },
  { action: 's3-object-lambda:GetObjectVersion', reason: 'object versions through S3 Object Lambda' },
  { action: 'glacier:GetJobOutput', reason: 'archive contents retrieved by a Glacier job' },
  { action: 'ebs:GetSnapshotBlock', reason: 'raw disk blocks of EBS snapshots' },
  // Secret and configuration values
  { action: 'secretsmanager:GetSecretValue', reason: 'secret values' },
  { action: 'secretsmanager:BatchGetSecretValue', reason: 'secret values, in batches' },
  { action: 'ssm:GetParameter', reason: 'parameter values, SecureString included' },
  { action: 'ssm:GetParameters', reason: 'parameter values, in batches' },
  { action: 'ssm:GetParametersByPath', reason: 'parameter values of a whole path' },
  { action: 'ssm:GetParameterHistory', reason: 'earlier parameter values' },
  { action: 'ec2:GetPasswordData', reason: 'encrypted Windows administrator passwords' },
  { action: 'ec2:GetConsoleOutput', reason: 'instance console output, which often prints secrets and data' },
  { action: 'ec2:GetConsoleScreenshot', reason: 'screenshots of instance consoles' },
  // Table items and query results
  { action: 'dynamodb:GetItem', reason: 'table items' },
  { action: 'dynamodb:BatchGetItem', reason: 'table items, in batches' },
  { action: 'dynamodb:Query', reason: 'table items by key' },
  { action: 'dynamodb:Scan', reason: 'all items of a table' },
  { action: 'dynamodb:PartiQLSelect', reason: 'table items through PartiQL' },
  { action: 'dynamodb:GetRecords', reason: 'item changes from DynamoDB Streams' },
  { action: 'timestream:Select', reason: 'time-series records' },
  { action: 'sdb:Select', reason: 'SimpleDB items' },
  { action: 'athena:GetQueryResults', reason: 'results of earlier Athena queries' },
  { action: 'athena:GetQueryResultsStream', reason: 'results of earlier Athena queries, streamed' },
  { action: 'redshift-data:GetStatementResult', reason: 'results of Redshift Data API statements' },
  { action: 'es:ESHttpGet', reason: 'documents in OpenSearch and Elasticsearch domains' },
  { action: 'es:ESHttpHead', reason: 'document existence checks in OpenSearch and Elasticsearch domains' },
  // Queue and stream records
  { action: 'sqs:ReceiveMessage', reason: 'queue messages (and it hides them from consumers)' },
  { action: 'kinesis:GetRecords', reason: 'stream records' },
  { action: 'kinesis:SubscribeToShard', reason: 'stream records, pushed' },
  { action: 'kinesisvideo:GetMedia', reason: 'video stream contents' },
  { action: 'kinesisvideo:GetMediaForFragmentList', reason: 'video fragments' },
  { action: 'states:GetExecutionHistory', reason: 'Step Functions execution inputs and outputs' },
  // Log events
  { action: 'logs:GetLogEvents', reason: 'log events' },
  { action: 'logs:FilterLogEvents', reason: 'log events, searched' },
  { action: 'logs:StartQuery', reason: 'Logs Insights queries over log events' },
  { action: 'logs:GetQueryResults', reason: 'results of Logs Insights queries' },
  { action: 'logs:StartLiveTail', reason: 'log events, live' },
  { action: 'logs:GetLogRecord', reason: 'a single log event in full' },
  // Code and images
  { action: 'ecr:GetDownloadUrlForLayer', reason: 'container image layers (code and baked-in files)' },
  { action: 'ecr:BatchGetImage', reason: 'container image manifests, the first step of a pull' },
  { action: 'codecommit:GetBlob', reason: 'source file contents' },
  { action: 'codecommit:GetFile', reason: 'source file contents' },
  { action: 'codecommit:GetFolder', reason: 'source tree listings' },
];
