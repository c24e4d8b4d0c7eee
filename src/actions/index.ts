// The imperative side of the API: each action validates, writes desired state in one transaction, records events
// and returns the wire object. Reconcilers (reconcile*.ts) then move statuses along. One module per resource.
export type { ActionContext } from './common.ts';
export { createApp, updateApp, deleteApp, pauseApp, resumeApp } from './apps.ts';
export {
  createService, updateService, redeployService, pauseService, resumeService, deleteService,
} from './services.ts';
export { cancelDeployment, deploymentDiff, insertNewDeployment } from './deployments.ts';
export { getServiceScaling, putServiceScaling, deleteServiceScaling, deploymentScaling } from './scaling.ts';
export { createSecret, getSecretView, updateSecret, deleteSecret, revealSecret } from './secrets.ts';
