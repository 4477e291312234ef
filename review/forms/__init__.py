"""Forms of the review app: they parse and validate input; services do the work.

answers: what a person gives on the sample page (a label, yes/no votes, mask clicks);
filters: the queue's and the audit's GET filters; jobs: what an admin starts (an import, an
export, a pipeline run); fields: the pieces they share."""
