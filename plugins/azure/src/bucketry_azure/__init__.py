from bucketry_azure.storage import AzureStorage

__all__ = ["AzureStorage"]
