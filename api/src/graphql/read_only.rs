//! GET requests may only read: links, prefetchers and caches follow GETs. The HTTP
//! layer refuses a GET whose query text is a mutation, but a persisted query arrives
//! as a bare hash; this extension checks the parsed document, whichever way it came.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{ServerError, ServerResult, Variables};

/// Request data marking a request that came as HTTP GET.
#[derive(Clone, Copy, Debug)]
pub struct ReadOnly;

pub struct GetIsReadOnly;

impl ExtensionFactory for GetIsReadOnly {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GetIsReadOnlyExtension)
    }
}

struct GetIsReadOnlyExtension;

#[async_trait::async_trait]
impl Extension for GetIsReadOnlyExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let writes = document
            .operations
            .iter()
            .any(|(_, operation)| operation.node.ty != OperationType::Query);
        if writes && ctx.data_opt::<ReadOnly>().is_some() {
            return Err(ServerError::new("mutations need POST", None));
        }
        Ok(document)
    }
}
