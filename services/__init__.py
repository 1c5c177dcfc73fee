"""Background services of the gateway process, with their own state: above the graph
(they read orders through its loaders), below the edge that starts them."""
