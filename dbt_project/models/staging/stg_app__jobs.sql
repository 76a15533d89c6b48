-- latest version of every background job (its versions: stg_app__job_versions).
with

latest as (

    {{ latest_versions(ref('stg_app__job_versions'), key='job_id') }}

)

select * from latest
